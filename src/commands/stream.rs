//! `shmimage stream`: a moving test pattern published at a fixed rate, the demo of Follow and
//! the publisher of `bench --follow`.
//!
//! Each frame carries its index in its first pixels, and its pixels are a function of that
//! index (a white bar that moves 8 columns a frame over [`crate::commands::bench::pattern`]), so
//! a reader can tell a whole frame from a torn one without trusting the header's checksum.
//!
//! With a native key the frames go into one object, rewritten in place in a raw pixel format,
//! as a camera or OpenCV process writes them (the publisher of `bench --follow --native-key`).

use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use image::RgbaImage;

use crate::codec::Encoding;
use crate::codec::raw::PixelFormat;
use crate::protocol::journal::now_us;
use crate::protocol::{self, Endpoint, Publication, RawPublication, ShareError};

/// Width of the moving bar, and how far it moves per frame.
const BAR: u32 = 8;
/// Where a frame holds its index: 8 bytes in the colour channels of its first three pixels,
/// never in alpha, so the index survives a format without alpha (bgr8).
const STAMP_AT: [usize; 8] = [0, 1, 2, 4, 5, 6, 8, 9];
const WHITE: [u8; 4] = [255, 255, 255, 255];

/// How much of a frame changes from one frame to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    /// A white bar moves over a still picture: a few columns change, so a frame is cheap to make.
    Bar,
    /// The bar moves and every other pixel's colour channels step by one, as in video, where
    /// every part of a frame changes: what a native key's sampled torn-frame check relies on.
    Everything,
}

impl Motion {
    /// A native key's stream changes everywhere, as video does; a key's stream moves a bar.
    pub fn of_stream(native_key: bool) -> Self {
        if native_key {
            Self::Everything
        } else {
            Self::Bar
        }
    }
}

/// Frame `index` of a stream over `base`.
pub struct Frames {
    pub(super) base: RgbaImage,
    motion: Motion,
    frame: RgbaImage,
    bar_at: Option<u32>,
    /// `base` in the raw format [`pixels`](Self::pixels) was last asked for.
    base_pixels: Option<(PixelFormat, Vec<u8>)>,
    /// The last frame [`pixels`](Self::pixels) made: its memory is used again for the next.
    pixels: Vec<u8>,
}

impl Frames {
    pub fn new(width: u32, height: u32, motion: Motion) -> Self {
        // At least the stamp's three pixels.
        let base = crate::commands::bench::pattern(width.max(4), height.max(1));
        Self {
            frame: base.clone(),
            base,
            motion,
            bar_at: None,
            base_pixels: None,
            pixels: Vec::new(),
        }
    }

    /// The pixel of frame `index` in column `x` whose picture pixel is `base`, but for the stamp.
    fn pixel(&self, base: [u8; 4], x: u32, index: u64) -> [u8; 4] {
        let bar = bar_column(index, self.base.width());
        match self.motion {
            _ if (bar..bar + BAR).contains(&x) => WHITE,
            Motion::Bar => base,
            Motion::Everything => {
                let step = index as u8;
                let [r, g, b, a] = base;
                [
                    r.wrapping_add(step),
                    g.wrapping_add(step),
                    b.wrapping_add(step),
                    a,
                ]
            }
        }
    }

    /// Frame `index`. With [`Motion::Bar`] the previous bar is undrawn and the new one drawn,
    /// so a frame costs a few columns, not a whole image.
    pub fn frame(&mut self, index: u64) -> &RgbaImage {
        let columns = match (self.motion, self.bar_at.take()) {
            (Motion::Bar, Some(old)) => vec![old, bar_column(index, self.base.width())],
            (Motion::Bar, None) => vec![bar_column(index, self.base.width())],
            (Motion::Everything, _) => (0..self.base.width()).step_by(BAR as usize).collect(),
        };
        for x in columns
            .into_iter()
            .flat_map(|at| at..(at + BAR).min(self.base.width()))
        {
            for y in 0..self.base.height() {
                let pixel = self.pixel(self.base.get_pixel(x, y).0, x, index);
                self.frame.put_pixel(x, y, image::Rgba(pixel));
            }
        }
        self.bar_at = Some(bar_column(index, self.base.width()));
        // The stamp is written last: it may cover bar pixels at column 0 or 1.
        let pixels = self.frame.as_mut();
        for (at, byte) in STAMP_AT.into_iter().zip(index.to_le_bytes()) {
            pixels[at] = byte;
        }
        &self.frame
    }

    /// Frame `index` as headerless pixels in `format`, as a video source hands over its frames:
    /// made from the picture in that format, in one pass that steps every colour byte, plus the
    /// bar's columns and the stamp.
    pub fn pixels(&mut self, index: u64, format: PixelFormat) -> &[u8] {
        // The stamp's three pixels, with the index in their colour channels.
        let mut first = [0u8; 12];
        for (x, pixel) in first.chunks_exact_mut(4).enumerate() {
            let base = self.base.get_pixel(x as u32, 0).0;
            pixel.copy_from_slice(&self.pixel(base, x as u32, index));
        }
        for (at, byte) in STAMP_AT.into_iter().zip(index.to_le_bytes()) {
            first[at] = byte;
        }
        let step = match self.motion {
            Motion::Bar => 0,
            Motion::Everything => index as u8,
        };
        let base = match &mut self.base_pixels {
            Some((made, base)) if *made == format => base,
            other => {
                let base = crate::codec::raw::from_rgba(&self.base, format).0;
                &mut other.insert((format, base)).1
            }
        };
        let bytes = &mut self.pixels;
        bytes.resize(base.len(), 0);
        // Every colour byte steps; alpha, where a pixel has it, stays. Two plain loops, which
        // the compiler vectorises.
        match format.alpha_at() {
            None => {
                for (out, base) in bytes.iter_mut().zip(base) {
                    *out = base.wrapping_add(step);
                }
            }
            Some(alpha) => {
                let mut steps = [step; 4];
                steps[alpha] = 0;
                let (outs, _) = bytes.as_chunks_mut::<4>();
                for (out, base) in outs.iter_mut().zip(base.as_chunks::<4>().0) {
                    for i in 0..4 {
                        out[i] = base[i].wrapping_add(steps[i]);
                    }
                }
            }
        }
        let bpp = format.bytes_per_pixel();
        let width = self.base.width() as usize;
        let bar = bar_column(index, self.base.width()) as usize;
        let mut white = [0u8; 4];
        format.put_rgba(WHITE, &mut white[..bpp]);
        for row in bytes.chunks_exact_mut(width * bpp) {
            let columns = bar * bpp..(bar + BAR as usize).min(width) * bpp;
            for pixel in row[columns].chunks_exact_mut(bpp) {
                pixel.copy_from_slice(&white[..bpp]);
            }
        }
        for (pixel, out) in first.chunks_exact(4).zip(bytes.chunks_exact_mut(bpp)) {
            format.put_rgba([pixel[0], pixel[1], pixel[2], pixel[3]], out);
        }
        bytes
    }

    /// The frame index a fetched image claims, if its pixels are exactly that frame. Checks
    /// every pixel up to 1 MP, and every 61st above (a torn frame differs in whole rows).
    pub fn check(&self, image: &RgbaImage) -> Result<u64, String> {
        if image.dimensions() != self.base.dimensions() {
            return Err(format!(
                "a {}x{} frame in a {}x{} stream",
                image.width(),
                image.height(),
                self.base.width(),
                self.base.height()
            ));
        }
        let index = u64::from_le_bytes(STAMP_AT.map(|at| image.as_raw()[at]));
        let step = if image.len() <= 4 * 1024 * 1024 {
            1
        } else {
            61
        };
        let width = self.base.width() as usize;
        // Past the stamp's three pixels.
        let differs = (3..image.len() / 4).step_by(step).find(|&at| {
            let x = (at % width) as u32;
            let base = &self.base.as_raw()[at * 4..at * 4 + 4];
            let want = self.pixel([base[0], base[1], base[2], base[3]], x, index);
            image.as_raw()[at * 4..at * 4 + 4] != want
        });
        match differs {
            None => Ok(index),
            Some(at) => Err(format!(
                "frame {index} differs at pixel {at} (torn, or not this stream)"
            )),
        }
    }
}

fn bar_column(index: u64, width: u32) -> u32 {
    ((index % u64::from(width.div_ceil(BAR))) * u64::from(BAR)) as u32
}

pub struct StreamOptions {
    pub width: u32,
    pub height: u32,
    pub rate: f64,
    /// Stop after this long; `None` runs until Ctrl-C or SIGTERM.
    pub seconds: Option<f64>,
    pub encoding: Encoding,
    /// Rewrite one object of this name in place, in this pixel format, instead of publishing.
    pub native: Option<(String, PixelFormat)>,
}

/// Where frames go: a new segment per frame through the key's protocol, or one native object
/// rewritten in place.
enum Sink {
    Protocol(Option<Box<Publication>>),
    Native {
        name: String,
        format: PixelFormat,
        object: Option<RawPublication>,
    },
}

impl Sink {
    /// Shares frame `index`: the generation a reader sees it as, and when it became readable.
    fn share(
        &mut self,
        endpoint: &Endpoint,
        frames: &mut Frames,
        index: u64,
        encoding: Encoding,
    ) -> Result<(u64, u64), ShareError> {
        match self {
            Self::Protocol(shown) => {
                let publication = protocol::publish(endpoint, frames.frame(index), encoding)?;
                let readable = (publication.header.generation, now_us());
                // The new segment is readable: the old one can go.
                if let Some(old) = shown.replace(Box::new(publication)) {
                    old.withdraw();
                }
                Ok(readable)
            }
            Self::Native {
                name,
                format,
                object,
            } => {
                let bytes = frames.pixels(index, *format);
                match object {
                    Some(object) => object.write_at(0, bytes)?,
                    None => *object = Some(protocol::publish_raw(name, bytes)?),
                }
                Ok((protocol::native_generation(bytes), now_us()))
            }
        }
    }

    fn end(self) {
        // A native object goes when its publication is dropped.
        if let Self::Protocol(Some(last)) = self {
            last.withdraw();
        }
    }
}

/// Publishes frames at `options.rate` until the time is up or a signal comes, printing for each
/// "published generation=G frame=I at_us=T" (T once the frame is readable). A frame that is due
/// while the previous one is still being published is published late, never twice: the stream
/// falls behind instead of bursting.
pub fn run_stream(
    endpoint: &Endpoint,
    options: &StreamOptions,
    out: &mut dyn Write,
) -> Result<u64, ShareError> {
    let (stop_tx, stop_rx) = mpsc::channel();
    if let Err(err) = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    }) {
        log::warn!("cannot catch Ctrl-C/SIGTERM ({err})");
    }
    let period = Duration::from_secs_f64(1.0 / options.rate.max(0.001));
    let until = options
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let motion = Motion::of_stream(options.native.is_some());
    let mut frames = Frames::new(options.width, options.height, motion);
    let mut sink = match &options.native {
        Some((name, format)) => Sink::Native {
            name: name.clone(),
            format: *format,
            object: None,
        },
        None => Sink::Protocol(None),
    };
    let mut index = 0;
    let mut due = Instant::now();
    loop {
        let (generation, at) = sink.share(endpoint, &mut frames, index, options.encoding)?;
        writeln!(
            out,
            "published generation={generation} frame={index} at_us={at}"
        )
        .ok();
        out.flush().ok();
        index += 1;
        // Each frame stays up for its period, the last one too.
        due = (due + period).max(Instant::now());
        let wait = due.saturating_duration_since(Instant::now());
        if stop_rx.recv_timeout(wait).is_ok() || until.is_some_and(|until| due >= until) {
            break;
        }
    }
    sink.end();
    writeln!(out, "stopped after {index} frames").ok();
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_checks_as_its_own_index_and_a_torn_one_does_not() {
        for motion in [Motion::Bar, Motion::Everything] {
            let mut frames = Frames::new(64, 16, motion);
            let seventh = frames.frame(7).clone();
            let third = frames.frame(3).clone();
            let checker = Frames::new(64, 16, motion);
            assert_eq!(checker.check(&seventh), Ok(7));
            assert_eq!(checker.check(&third), Ok(3));
            // The top half of frame 7 over the bottom half of frame 3: a torn copy.
            let mut torn = third.clone();
            let half = seventh.len() / 2;
            torn.as_mut()[..half].copy_from_slice(&seventh.as_raw()[..half]);
            assert!(checker.check(&torn).unwrap_err().contains("differs"));
            assert!(
                checker
                    .check(&Frames::new(8, 8, motion).frame(1).clone())
                    .is_err()
            );
        }
    }

    /// A video frame's pixels in any colour format read back as that frame, stamp included,
    /// and every pixel but the bar's changes from one frame to the next.
    #[test]
    fn video_frames_in_a_raw_format_read_back_as_themselves() {
        let mut frames = Frames::new(40, 12, Motion::Everything);
        for format in PixelFormat::ALL.into_iter().filter(|f| f.has_colour()) {
            let bytes = frames.pixels(300, format).to_vec();
            let shape = crate::codec::raw::RawShape {
                width: 40,
                height: 12,
                format,
                stride: 40 * format.bytes_per_pixel(),
            };
            let image = shape.to_rgba(&bytes, "a frame").unwrap();
            assert_eq!(frames.check(&image), Ok(300), "{}", format.name());
            assert_eq!(&image, frames.frame(300), "{}", format.name());
        }
        let (one, two) = (frames.frame(1).clone(), frames.frame(2).clone());
        let same = one
            .pixels()
            .zip(two.pixels())
            .filter(|(a, b)| a == b)
            .count();
        assert!(
            same <= 2 * BAR as usize * 12,
            "{same} pixels did not change"
        );
    }
}
