//! `shmimage stream`: a moving test pattern published at a fixed rate, the demo of Follow and
//! the publisher of `bench --follow`.
//!
//! Each frame carries its index in its first pixels, and its pixels are a function of that
//! index (a white bar that moves 8 columns a frame over [`crate::commands::bench::pattern`]), so
//! a reader can tell a whole frame from a torn one without trusting the header's checksum.

use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use image::RgbaImage;

use crate::codec::Encoding;
use crate::protocol::journal::now_us;
use crate::protocol::{self, Endpoint, Publication, ShareError};

/// Width of the moving bar, and how far it moves per frame.
const BAR: u32 = 8;
/// Bytes at the start of the pixels that hold the frame index (two pixels).
const STAMP: usize = 8;

/// Frame `index` of a stream over `base`.
pub struct Frames {
    pub(super) base: RgbaImage,
    frame: RgbaImage,
    bar_at: Option<u32>,
}

impl Frames {
    pub fn new(width: u32, height: u32) -> Self {
        let base = crate::commands::bench::pattern(width.max(4), height.max(1));
        Self {
            frame: base.clone(),
            base,
            bar_at: None,
        }
    }

    /// Frame `index`: the previous bar is undrawn and the new one drawn, so a frame costs a few
    /// columns, not a whole image.
    pub fn frame(&mut self, index: u64) -> &RgbaImage {
        if let Some(old) = self.bar_at.take() {
            for x in old..(old + BAR).min(self.base.width()) {
                for y in 0..self.base.height() {
                    self.frame.put_pixel(x, y, *self.base.get_pixel(x, y));
                }
            }
        }
        let at = bar_column(index, self.base.width());
        for x in at..(at + BAR).min(self.base.width()) {
            for y in 0..self.base.height() {
                self.frame
                    .put_pixel(x, y, image::Rgba([255, 255, 255, 255]));
            }
        }
        self.bar_at = Some(at);
        // The stamp is written last: it may cover bar pixels at column 0 or 1.
        self.frame.as_mut()[..STAMP].copy_from_slice(&index.to_le_bytes());
        &self.frame
    }

    /// The frame index a fetched image claims, if its pixels are exactly that frame. Checks
    /// every pixel up to 1 MP, and every 61st above (a torn frame differs in whole rows).
    pub fn check(&mut self, image: &RgbaImage) -> Result<u64, String> {
        if image.dimensions() != self.base.dimensions() {
            return Err(format!(
                "a {}x{} frame in a {}x{} stream",
                image.width(),
                image.height(),
                self.base.width(),
                self.base.height()
            ));
        }
        let mut stamp = [0u8; STAMP];
        stamp.copy_from_slice(&image.as_raw()[..STAMP]);
        let index = u64::from_le_bytes(stamp);
        let expected = self.frame(index);
        let step = if image.len() <= 4 * 1024 * 1024 {
            1
        } else {
            61
        };
        let differs = image
            .as_raw()
            .chunks_exact(4)
            .zip(expected.as_raw().chunks_exact(4))
            .step_by(step)
            .position(|(got, want)| got != want);
        match differs {
            None => Ok(index),
            Some(at) => Err(format!(
                "frame {index} differs at pixel {} (torn, or not this stream)",
                at * step
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
    let mut frames = Frames::new(options.width, options.height);
    let mut shown: Option<Publication> = None;
    let mut index = 0;
    let mut due = Instant::now();
    loop {
        let publication = protocol::publish(endpoint, frames.frame(index), options.encoding)?;
        let at = now_us();
        writeln!(
            out,
            "published generation={} frame={index} at_us={at}",
            publication.header.generation
        )
        .ok();
        out.flush().ok();
        // The new segment is readable: the old one can go.
        if let Some(old) = shown.replace(publication) {
            old.withdraw();
        }
        index += 1;
        // Each frame stays up for its period, the last one too.
        due = (due + period).max(Instant::now());
        let wait = due.saturating_duration_since(Instant::now());
        if stop_rx.recv_timeout(wait).is_ok() || until.is_some_and(|until| due >= until) {
            break;
        }
    }
    if let Some(last) = shown {
        last.withdraw();
    }
    writeln!(out, "stopped after {index} frames").ok();
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_checks_as_its_own_index_and_a_torn_one_does_not() {
        let mut frames = Frames::new(64, 16);
        let seventh = frames.frame(7).clone();
        let third = frames.frame(3).clone();
        let mut checker = Frames::new(64, 16);
        assert_eq!(checker.check(&seventh), Ok(7));
        assert_eq!(checker.check(&third), Ok(3));
        // The top half of frame 7 over the bottom half of frame 3: what a torn copy looks like.
        let mut torn = third.clone();
        torn.as_mut()[..seventh.len() / 2].copy_from_slice(&seventh.as_raw()[..seventh.len() / 2]);
        assert!(checker.check(&torn).unwrap_err().contains("differs"));
        assert!(checker.check(&Frames::new(8, 8).frame(1).clone()).is_err());
    }
}
