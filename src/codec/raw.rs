//! Headerless pixels, as other programs leave them in shared memory (Python, OpenCV, a camera
//! pipeline): `--raw WxH:FORMAT[:STRIDE]` says their shape, since nothing in the bytes does.

use std::fmt;
use std::str::FromStr;

use image::RgbaImage;

use super::{CodecError, MAX_SEGMENT_BYTES, header};

/// How one pixel is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Rgba8,
    Rgb8,
    /// OpenCV's default order.
    Bgr8,
    Bgra8,
    Gray8,
    /// Little-endian, as numpy's `uint16` on every machine this runs on; shown by its high byte.
    Gray16,
}

impl PixelFormat {
    pub const ALL: [PixelFormat; 6] = [
        Self::Rgba8,
        Self::Rgb8,
        Self::Bgr8,
        Self::Bgra8,
        Self::Gray8,
        Self::Gray16,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Rgba8 => "rgba8",
            Self::Rgb8 => "rgb8",
            Self::Bgr8 => "bgr8",
            Self::Bgra8 => "bgra8",
            Self::Gray8 => "gray8",
            Self::Gray16 => "gray16",
        }
    }

    /// Every format's name, for help texts: "rgba8, rgb8, …".
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    pub fn bytes_per_pixel(self) -> usize {
        match self {
            Self::Rgba8 | Self::Bgra8 => 4,
            Self::Rgb8 | Self::Bgr8 => 3,
            Self::Gray8 => 1,
            Self::Gray16 => 2,
        }
    }

    /// Which of a pixel's bytes is alpha, if it has one.
    pub fn alpha_at(self) -> Option<usize> {
        match self {
            Self::Rgba8 | Self::Bgra8 => Some(3),
            _ => None,
        }
    }

    /// Whether it keeps red, green and blue apart (not gray).
    pub fn has_colour(self) -> bool {
        !matches!(self, Self::Gray8 | Self::Gray16)
    }

    /// Writes one RGBA pixel into `out`, one pixel of this format (grey by Rec. 601 luma,
    /// alpha dropped where it has none).
    pub fn put_rgba(self, [r, g, b, a]: [u8; 4], out: &mut [u8]) {
        let luma =
            || ((u32::from(r) * 299 + u32::from(g) * 587 + u32::from(b) * 114 + 500) / 1000) as u8;
        match self {
            Self::Rgba8 => out.copy_from_slice(&[r, g, b, a]),
            Self::Rgb8 => out.copy_from_slice(&[r, g, b]),
            Self::Bgr8 => out.copy_from_slice(&[b, g, r]),
            Self::Bgra8 => out.copy_from_slice(&[b, g, r, a]),
            Self::Gray8 => out.copy_from_slice(&[luma()]),
            Self::Gray16 => out.copy_from_slice(&(u16::from(luma()) * 257).to_le_bytes()),
        }
    }

    /// One row of this format's pixels as RGBA, into `out`: a loop of its own per format, which
    /// the compiler turns into straight-line code, where a `match` per pixel made a 4K bgr8
    /// frame cost about 25 ms.
    fn row_to_rgba(self, row: &[u8], out: &mut [u8]) {
        fn each<const N: usize>(row: &[u8], out: &mut [u8], pixel: impl Fn(&[u8; N]) -> [u8; 4]) {
            let (pixels, _) = row.as_chunks::<N>();
            let (outs, _) = out.as_chunks_mut::<4>();
            for (out, p) in outs.iter_mut().zip(pixels) {
                *out = pixel(p);
            }
        }
        match self {
            Self::Rgba8 => each::<4>(row, out, |p| *p),
            Self::Rgb8 => each::<3>(row, out, |p| [p[0], p[1], p[2], 255]),
            Self::Bgr8 => each::<3>(row, out, |p| [p[2], p[1], p[0], 255]),
            Self::Bgra8 => each::<4>(row, out, |p| [p[2], p[1], p[0], p[3]]),
            Self::Gray8 => each::<1>(row, out, |p| [p[0], p[0], p[0], 255]),
            Self::Gray16 => each::<2>(row, out, |p| [p[1], p[1], p[1], 255]),
        }
    }
}

/// The shape of headerless pixels: `WxH:FORMAT[:STRIDE]`, the stride being the bytes from one
/// row's start to the next (default: no padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawShape {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    pub stride: usize,
}

impl RawShape {
    /// The bytes the shape needs: every row but the last at its stride, the last one whole.
    /// Saturates: a stride no memory could hold needs `u64::MAX`, which no object has.
    pub fn bytes_needed(&self) -> u64 {
        let row = u64::from(self.width) * self.format.bytes_per_pixel() as u64;
        u64::from(self.height)
            .saturating_sub(1)
            .saturating_mul(self.stride as u64)
            .saturating_add(row)
    }

    /// The pixels of `bytes`, which must hold at least [`bytes_needed`](Self::bytes_needed).
    pub fn to_rgba(&self, bytes: &[u8], what: &str) -> Result<RgbaImage, CodecError> {
        if (bytes.len() as u64) < self.bytes_needed() {
            return Err(CodecError::RawTooSmall {
                what: what.to_owned(),
                shape: self.to_string(),
                needed: self.bytes_needed(),
                has: bytes.len() as u64,
            });
        }
        let mut image = RgbaImage::new(self.width, self.height);
        self.rows_to_rgba(0, bytes, &mut image);
        Ok(image)
    }

    /// Converts the rows that `bytes` holds, row `first_row` on (`bytes` starts at that row's
    /// start), into the same rows of `rgba` (the whole image's RGBA pixels, rows unpadded): how a
    /// copy that goes a few rows at a time converts them while they are still in cache. Rows
    /// `bytes` does not hold whole are left as they are.
    pub fn rows_to_rgba(&self, first_row: usize, bytes: &[u8], rgba: &mut [u8]) {
        let row_len = self.width as usize * self.format.bytes_per_pixel();
        // At least 1: a chunk of 0 bytes would panic, and a 0-wide image has no rows to fill.
        let out_len = (self.width as usize * 4).max(1);
        let rows = rgba.chunks_exact_mut(out_len).skip(first_row);
        for (y, out) in rows.enumerate() {
            // `get` keeps a shape built by hand with a wrapping stride from ever panicking.
            let start = y.saturating_mul(self.stride);
            let Some(row) = bytes.get(start..start.saturating_add(row_len)) else {
                break;
            };
            self.format.row_to_rgba(row, out);
        }
    }
}

/// `image` as headerless pixels in `format`, rows unpadded, and the shape to read them with.
pub fn from_rgba(image: &RgbaImage, format: PixelFormat) -> (Vec<u8>, RawShape) {
    let mut bytes = vec![0; image.len() / 4 * format.bytes_per_pixel()];
    for (pixel, out) in image
        .pixels()
        .zip(bytes.chunks_exact_mut(format.bytes_per_pixel()))
    {
        format.put_rgba(pixel.0, out);
    }
    let shape = RawShape {
        width: image.width(),
        height: image.height(),
        format,
        stride: image.width() as usize * format.bytes_per_pixel(),
    };
    (bytes, shape)
}

impl FromStr for PixelFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| format!("unknown pixel format {text:?}: one of {}", Self::names()))
    }
}

impl fmt::Display for RawShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}:{}", self.width, self.height, self.format.name())?;
        if self.stride != self.width as usize * self.format.bytes_per_pixel() {
            write!(f, ":{}", self.stride)?;
        }
        Ok(())
    }
}

impl FromStr for RawShape {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "expected WIDTHxHEIGHT:FORMAT[:STRIDE], e.g. 640x480:bgr8, FORMAT one of {}",
                PixelFormat::ALL.map(PixelFormat::name).join(", ")
            )
        };
        let mut parts = text.split(':');
        let (size, format) = (parts.next().unwrap_or(""), parts.next().ok_or_else(usage)?);
        let (w, h) = size.split_once(['x', 'X']).ok_or_else(usage)?;
        let side = |v: &str| v.trim().parse::<u32>().ok().filter(|n| *n > 0);
        let (width, height) = side(w).zip(side(h)).ok_or_else(usage)?;
        header::check_dimensions(width, height).map_err(|err| err.to_string())?;
        let format: PixelFormat = format.parse().map_err(|_| usage())?;
        let row = width as usize * format.bytes_per_pixel();
        let stride = match parts.next() {
            None => row,
            Some(stride) => stride
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|s| *s >= row)
                .ok_or_else(|| format!("the stride must be at least one row, {row} bytes"))?,
        };
        if parts.next().is_some() {
            return Err(usage());
        }
        let shape = Self {
            width,
            height,
            format,
            stride,
        };
        if shape.bytes_needed() > MAX_SEGMENT_BYTES {
            return Err(format!(
                "the shape {text} spans more bytes than any image within the limits needs ({MAX_SEGMENT_BYTES} bytes): check the stride"
            ));
        }
        Ok(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_and_print_back() {
        let shape: RawShape = "640x480:bgr8".parse().unwrap();
        assert_eq!((shape.width, shape.height, shape.stride), (640, 480, 1920));
        assert_eq!(shape.to_string(), "640x480:bgr8");
        let padded: RawShape = "3x2:gray16:8".parse().unwrap();
        assert_eq!(padded.bytes_needed(), 8 + 6);
        assert_eq!(padded.to_string(), "3x2:gray16:8");
        for bad in [
            "640x480",
            "0x4:rgb8",
            "4x4:yuv",
            "4x4:rgb8:5",
            "4x4:rgb8:12:1",
            "x:rgb8",
            // (h-1)*stride + row wrapped to a few bytes, and slicing panicked.
            "2x3:gray8:9223372036854775808",
            "2x3:gray8:18446744073709551615",
            "2x3:gray8:18446744073709551616",
            "2x2:gray8:4294967296000",
        ] {
            assert!(bad.parse::<RawShape>().is_err(), "{bad}");
        }
    }

    /// A shape made by hand (the fields are public) with a stride that wraps is an error, not
    /// a panic.
    #[test]
    fn a_wrapping_stride_built_by_hand_is_refused() {
        let shape = RawShape {
            width: 2,
            height: 3,
            format: PixelFormat::Gray8,
            stride: usize::MAX / 2 + 1,
        };
        assert_eq!(shape.bytes_needed(), u64::MAX);
        assert!(shape.to_rgba(&[0; 16], "t").is_err());
    }

    #[test]
    fn each_format_becomes_the_same_rgba() {
        let shape = |f: &str| f.parse::<RawShape>().unwrap();
        let rgba = RgbaImage::from_raw(2, 1, vec![10, 20, 30, 255, 40, 50, 60, 255]).unwrap();
        assert_eq!(
            shape("2x1:rgb8")
                .to_rgba(&[10, 20, 30, 40, 50, 60], "t")
                .unwrap(),
            rgba
        );
        assert_eq!(
            shape("2x1:bgr8")
                .to_rgba(&[30, 20, 10, 60, 50, 40], "t")
                .unwrap(),
            rgba
        );
        assert_eq!(
            shape("2x1:bgra8")
                .to_rgba(&[30, 20, 10, 255, 60, 50, 40, 255], "t")
                .unwrap(),
            rgba
        );
        let grey = shape("2x1:gray16")
            .to_rgba(&[0x34, 0x12, 0xff, 0x80], "t")
            .unwrap();
        assert_eq!(
            grey.as_raw(),
            &[0x12, 0x12, 0x12, 255, 0x80, 0x80, 0x80, 255]
        );
        let error = shape("2x2:rgb8")
            .to_rgba(&[0; 11], "obj")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("12 bytes") && error.contains("11"),
            "{error}"
        );
    }
}
