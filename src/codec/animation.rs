//! Animated GIF, APNG and animated WebP, one frame at a time: frames are decoded as they are
//! due, never all at once, so a long animation costs one frame's memory (plus the file's bytes).
//! At the end the file's bytes are decoded again from the start, looping for ever. The number of
//! frames is known after the first loop.

use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use image::{AnimationDecoder, Frame, ImageDecoder, ImageFormat, RgbaImage};

use super::{CodecError, damaged, decode_limits, header};

/// A delay this short or shorter is taken as 100 ms, as browsers do: many GIFs say 0 and mean
/// "as the viewer likes".
const SHORTEST_DELAY: Duration = Duration::from_millis(10);
const DEFAULT_DELAY: Duration = Duration::from_millis(100);

/// One frame, whole (composited over the ones before it, as the format says).
pub struct AnimationFrame {
    pub image: RgbaImage,
    /// How long it stays up.
    pub delay: Duration,
    /// From 0.
    pub index: usize,
    /// Known from the second loop on.
    pub count: Option<usize>,
}

type Frames = Box<dyn Iterator<Item = image::ImageResult<Frame>>>;

/// An animation being played. Not `Send` (the `image` crate's frame iterators are not): it is
/// opened on the thread that plays it.
pub struct Animation {
    bytes: Vec<u8>,
    what: String,
    format: ImageFormat,
    frames: Frames,
    next_index: usize,
    count: Option<usize>,
}

impl Animation {
    /// The animation in `path`, or `None` if the file is no animation (a still image, or one
    /// frame): then it is decoded as any image.
    pub fn open(path: &Path) -> Result<Option<Self>, CodecError> {
        let bytes = std::fs::read(path).map_err(|source| CodecError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let what = path.display().to_string();
        let Ok(format) = image::guess_format(&bytes) else {
            return Ok(None);
        };
        let Some(frames) = frames_of(&bytes, format, &what)? else {
            return Ok(None);
        };
        let animation = Self {
            bytes,
            what,
            format,
            frames,
            next_index: 0,
            count: None,
        };
        // One frame is no animation; peeking decodes two, once.
        let two = frames_of(&animation.bytes, format, &animation.what)?
            .map_or(0, |frames| frames.take(2).filter(Result::is_ok).count());
        if two < 2 {
            return Ok(None);
        }
        Ok(Some(animation))
    }

    /// The next frame, from the first again after the last.
    pub fn next_frame(&mut self) -> Result<AnimationFrame, CodecError> {
        let frame = match self.frames.next() {
            Some(frame) => frame,
            None => {
                self.count = Some(self.next_index);
                self.next_index = 0;
                self.frames = frames_of(&self.bytes, self.format, &self.what)?
                    .ok_or_else(|| self.damaged_by("it no longer decodes as an animation"))?;
                self.frames
                    .next()
                    .ok_or_else(|| self.damaged_by("it has no frames"))?
            }
        };
        let frame = frame.map_err(|err| damaged(&self.what, self.format, err))?;
        let (numer, denom) = frame.delay().numer_denom_ms();
        let delay = Duration::from_secs_f64(f64::from(numer) / f64::from(denom.max(1)) / 1000.0);
        let index = self.next_index;
        self.next_index += 1;
        Ok(AnimationFrame {
            image: frame.into_buffer(),
            delay: if delay <= SHORTEST_DELAY {
                DEFAULT_DELAY
            } else {
                delay
            },
            index,
            count: self.count,
        })
    }

    fn damaged_by(&self, detail: &str) -> CodecError {
        CodecError::Damaged {
            what: self.what.clone(),
            format: super::format_name(self.format),
            detail: detail.to_owned(),
        }
    }
}

/// The frames of an animated GIF, APNG or WebP, under the decoding limits; `None` for any other
/// format, or a PNG or WebP that is not animated.
fn frames_of(bytes: &[u8], format: ImageFormat, what: &str) -> Result<Option<Frames>, CodecError> {
    let owned = bytes.to_vec();
    let damaged = |err| damaged(what, format, err);
    let frames: Frames = match format {
        ImageFormat::Gif => {
            let mut decoder =
                image::codecs::gif::GifDecoder::new(Cursor::new(owned)).map_err(damaged)?;
            checked(&mut decoder)?;
            Box::new(decoder.into_frames())
        }
        ImageFormat::Png => {
            let mut decoder =
                image::codecs::png::PngDecoder::new(Cursor::new(owned)).map_err(damaged)?;
            if !decoder.is_apng().map_err(damaged)? {
                return Ok(None);
            }
            checked(&mut decoder)?;
            Box::new(decoder.apng().map_err(damaged)?.into_frames())
        }
        ImageFormat::WebP => {
            let mut decoder =
                image::codecs::webp::WebPDecoder::new(Cursor::new(owned)).map_err(damaged)?;
            if !decoder.has_animation() {
                return Ok(None);
            }
            checked(&mut decoder)?;
            Box::new(decoder.into_frames())
        }
        _ => return Ok(None),
    };
    Ok(Some(frames))
}

/// The canvas size is checked before any frame is decoded, as for still images.
fn checked(decoder: &mut impl ImageDecoder) -> Result<(), CodecError> {
    let (width, height) = decoder.dimensions();
    header::check_dimensions(width, height)?;
    let _ = decoder.set_limits(decode_limits());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GIF of `colours.len()` frames, each one colour, `delay_cs` hundredths of a second each.
    pub(crate) fn gif(colours: &[[u8; 3]], delay_cs: u16) -> Vec<u8> {
        let mut bytes = Vec::new();
        {
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut bytes);
            encoder
                .set_repeat(image::codecs::gif::Repeat::Infinite)
                .unwrap();
            for colour in colours {
                let image = RgbaImage::from_pixel(
                    6,
                    4,
                    image::Rgba([colour[0], colour[1], colour[2], 255]),
                );
                let frame = Frame::from_parts(
                    image,
                    0,
                    0,
                    image::Delay::from_numer_denom_ms(u32::from(delay_cs) * 10, 1),
                );
                encoder.encode_frame(frame).unwrap();
            }
        }
        bytes
    }

    #[test]
    fn frames_come_in_order_with_their_delays_and_loop_with_a_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("动画.gif");
        std::fs::write(&path, gif(&[[255, 0, 0], [0, 255, 0], [0, 0, 255]], 20)).unwrap();
        let mut animation = Animation::open(&path).unwrap().expect("animated");
        let mut seen = Vec::new();
        for _ in 0..7 {
            let frame = animation.next_frame().unwrap();
            assert_eq!(frame.delay, Duration::from_millis(200));
            seen.push((frame.index, frame.count, frame.image.get_pixel(0, 0).0));
        }
        let red = [255, 0, 0, 255];
        assert_eq!(seen[0], (0, None, red));
        assert_eq!(seen[1].2, [0, 255, 0, 255]);
        assert_eq!(seen[2].2, [0, 0, 255, 255]);
        assert_eq!(seen[3], (0, Some(3), red), "looped, and now counted");
        assert_eq!(seen[6].0, 0);
    }

    #[test]
    fn a_still_image_or_a_one_frame_gif_is_no_animation() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.gif");
        std::fs::write(&one, gif(&[[1, 2, 3]], 0)).unwrap();
        assert!(Animation::open(&one).unwrap().is_none());
        let png = dir.path().join("still.png");
        RgbaImage::new(3, 3).save(&png).unwrap();
        assert!(Animation::open(&png).unwrap().is_none());
    }
}
