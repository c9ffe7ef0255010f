//! Animated GIF, APNG and animated WebP, one frame at a time: frames are decoded as they are
//! due, never all at once, so a long animation costs one frame's memory (plus the file's bytes).
//! At the end the file's bytes are decoded again from the start, looping for ever. The number of
//! frames is known after the first loop. Whether a file is an animation is read from its
//! structure, without decoding a frame, and its canvas is held to [`MAX_ANIMATION_PIXELS`].

use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use image::{AnimationDecoder, Frame, ImageDecoder, ImageFormat, RgbaImage};

use super::{
    CodecError, MAX_ANIMATION_PIXELS, check_before_decoding, damaged, decode_limits, header,
    without_panics,
};

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
        // One frame is no animation: it is decoded as any image.
        if !has_two_frames(&bytes, format) {
            return Ok(None);
        }
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
        Ok(Some(animation))
    }

    /// The next frame, from the first again after the last.
    pub fn next_frame(&mut self) -> Result<AnimationFrame, CodecError> {
        let frame = match without_panics(&self.what, self.format, || self.frames.next())? {
            Some(frame) => frame,
            None => {
                self.count = Some(self.next_index);
                self.next_index = 0;
                self.frames = frames_of(&self.bytes, self.format, &self.what)?
                    .ok_or_else(|| self.damaged_by("it no longer decodes as an animation"))?;
                without_panics(&self.what, self.format, || self.frames.next())?
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
    check_before_decoding(bytes, format, what)?;
    without_panics(what, format, || open_frames(bytes, format, what))?
}

fn open_frames(
    bytes: &[u8],
    format: ImageFormat,
    what: &str,
) -> Result<Option<Frames>, CodecError> {
    let owned = bytes.to_vec();
    let damaged = |err| damaged(what, format, err);
    let frames: Frames = match format {
        ImageFormat::Gif => {
            let mut decoder =
                image::codecs::gif::GifDecoder::new(Cursor::new(owned)).map_err(damaged)?;
            checked(&mut decoder, what)?;
            Box::new(decoder.into_frames())
        }
        ImageFormat::Png => {
            let mut decoder =
                image::codecs::png::PngDecoder::new(Cursor::new(owned)).map_err(damaged)?;
            if !decoder.is_apng().map_err(damaged)? {
                return Ok(None);
            }
            checked(&mut decoder, what)?;
            Box::new(decoder.apng().map_err(damaged)?.into_frames())
        }
        ImageFormat::WebP => {
            let mut decoder =
                image::codecs::webp::WebPDecoder::new(Cursor::new(owned)).map_err(damaged)?;
            if !decoder.has_animation() {
                return Ok(None);
            }
            checked(&mut decoder, what)?;
            Box::new(decoder.into_frames())
        }
        _ => return Ok(None),
    };
    Ok(Some(frames))
}

/// The canvas size is checked before any frame is decoded, against a still image's limits and
/// the animation's own ([`MAX_ANIMATION_PIXELS`]).
fn checked(decoder: &mut impl ImageDecoder, what: &str) -> Result<(), CodecError> {
    let (width, height) = decoder.dimensions();
    header::check_dimensions(width, height)?;
    if u64::from(width) * u64::from(height) > MAX_ANIMATION_PIXELS {
        return Err(CodecError::AnimationTooLarge {
            what: what.to_owned(),
            width,
            height,
        });
    }
    let _ = decoder.set_limits(decode_limits());
    Ok(())
}

/// Whether the file holds two frames or more, read from its structure alone (no pixel is
/// decoded): GIF image descriptors, APNG's frame count, WebP's ANMF chunks. Damaged structure
/// reads as no animation, and the file is then decoded as a still image, which says why.
fn has_two_frames(bytes: &[u8], format: ImageFormat) -> bool {
    match format {
        ImageFormat::Gif => gif_frames_at_least(bytes, 2),
        ImageFormat::Png => apng_frame_count(bytes).is_some_and(|count| count >= 2),
        ImageFormat::WebP => webp_frame_count(bytes) >= 2,
        _ => false,
    }
}

/// Walks a GIF's blocks (header, colour tables, extensions, image descriptors, data sub-blocks)
/// until `wanted` image descriptors are seen.
pub(super) fn gif_frames_at_least(bytes: &[u8], wanted: usize) -> bool {
    let table = |flags: u8| {
        if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        }
    };
    let Some(&flags) = bytes.get(10) else {
        return false;
    };
    let mut at = 13 + table(flags);
    let skip_sub_blocks = |mut at: usize| loop {
        match bytes.get(at) {
            Some(0) => return Some(at + 1),
            Some(&len) => at += 1 + usize::from(len),
            None => return None,
        }
    };
    let mut frames = 0;
    loop {
        at = match bytes.get(at) {
            Some(0x21) => match skip_sub_blocks(at + 2) {
                Some(next) => next,
                None => return false,
            },
            Some(0x2c) => {
                frames += 1;
                if frames >= wanted {
                    return true;
                }
                let Some(&flags) = bytes.get(at + 9) else {
                    return false;
                };
                match skip_sub_blocks(at + 10 + table(flags) + 1) {
                    Some(next) => next,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
}

/// The frame count of an APNG's `acTL` chunk, if it has one before its image data.
fn apng_frame_count(bytes: &[u8]) -> Option<u32> {
    let mut at = 8;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as usize;
        match &chunk[4..8] {
            b"acTL" => {
                let count = bytes.get(at + 8..at + 12)?;
                return Some(u32::from_be_bytes([count[0], count[1], count[2], count[3]]));
            }
            b"IDAT" | b"IEND" => return None,
            _ => at = at.checked_add(12)?.checked_add(len)?,
        }
    }
    None
}

/// How many `ANMF` (animation frame) chunks a WebP's RIFF container holds.
fn webp_frame_count(bytes: &[u8]) -> usize {
    let mut at = 12;
    let mut frames = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as usize;
        if &chunk[..4] == b"ANMF" {
            frames += 1;
        }
        let Some(next) = at
            .checked_add(8)
            .and_then(|a| a.checked_add(len + (len & 1)))
        else {
            break;
        };
        at = next;
    }
    frames
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

    /// Frames are counted from the structure, never decoded: a truncated file is no animation.
    #[test]
    fn frames_are_counted_from_the_structure() {
        let three = gif(&[[1, 2, 3], [4, 5, 6], [7, 8, 9]], 5);
        assert!(gif_frames_at_least(&three, 3));
        assert!(!gif_frames_at_least(&three, 4));
        assert!(!gif_frames_at_least(&gif(&[[1, 2, 3]], 5), 2));
        assert!(!gif_frames_at_least(&three[..40], 2));
        assert!(!gif_frames_at_least(b"GIF89a", 1));

        let chunk = |kind: &[u8], data: &[u8]| {
            let mut out = (data.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&[0; 4]);
            out
        };
        let mut apng = b"\x89PNG\r\n\x1a\n".to_vec();
        apng.extend(chunk(b"IHDR", &[0; 13]));
        apng.extend(chunk(b"acTL", &[0, 0, 0, 7, 0, 0, 0, 0]));
        apng.extend(chunk(b"IDAT", &[0; 3]));
        assert_eq!(apng_frame_count(&apng), Some(7));
        let mut still = b"\x89PNG\r\n\x1a\n".to_vec();
        still.extend(chunk(b"IHDR", &[0; 13]));
        still.extend(chunk(b"IDAT", &[0; 3]));
        still.extend(chunk(b"acTL", &[0, 0, 0, 7, 0, 0, 0, 0]));
        assert_eq!(
            apng_frame_count(&still),
            None,
            "acTL after IDAT means nothing"
        );

        let riff = |chunks: &[(&[u8; 4], usize)]| {
            let mut out = b"RIFF\0\0\0\0WEBP".to_vec();
            for (kind, len) in chunks {
                out.extend_from_slice(*kind);
                out.extend_from_slice(&(*len as u32).to_le_bytes());
                out.extend(std::iter::repeat_n(0, len + (len & 1)));
            }
            out
        };
        assert_eq!(
            webp_frame_count(&riff(&[
                (b"VP8X", 10),
                (b"ANIM", 6),
                (b"ANMF", 17),
                (b"ANMF", 3)
            ])),
            2
        );
        assert_eq!(webp_frame_count(&riff(&[(b"VP8 ", 9)])), 0);
    }

    /// The canvas, not the frames, is what playing costs: 85 bytes claimed 1 GiB of it.
    #[test]
    fn an_animation_over_its_canvas_limit_is_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.gif");
        let mut bytes = gif(&[[1, 2, 3], [4, 5, 6]], 5);
        bytes[6..10].copy_from_slice(&[0x01, 0x20, 0x00, 0x20]); // 8193 x 8192
        std::fs::write(&path, &bytes).unwrap();
        let err = Animation::open(&path).err().expect("refused");
        assert!(
            matches!(
                err,
                CodecError::AnimationTooLarge {
                    width: 8193,
                    height: 8192,
                    ..
                }
            ),
            "{err}"
        );
        bytes[6..10].copy_from_slice(&[0x00, 0x20, 0x00, 0x20]); // 8192 x 8192: the limit
        std::fs::write(&path, &bytes).unwrap();
        assert!(Animation::open(&path).unwrap().is_some());
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
