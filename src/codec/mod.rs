//! Images in and out of bytes: decoding files (with limits and EXIF orientation), the segment
//! header, and the two payload encodings. Knows nothing of shared memory or windows.

pub mod animation;
pub mod header;
pub mod qt;
pub mod raw;

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{
    DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits, RgbaImage,
};

pub use header::{HEADER_LEN, Header};

pub use crate::limits::{MAX_PIXELS, MAX_SEGMENT_BYTES, MAX_SIDE};
/// Largest canvas accepted for an animation (GIF, APNG, WebP). Playing one holds four
/// canvas-sized buffers at once: the decoder's canvas, the frame it hands out, that frame's
/// segment and, while readers move over, the previous frame's. A quarter of a still image's
/// pixels keeps that within what a still image at the limit costs (its pixels and its segment),
/// however small the file: a 108-byte GIF can claim a 16384x16384 canvas.
pub const MAX_ANIMATION_PIXELS: u64 = MAX_PIXELS / 4;
/// Memory a decoder may allocate on top of the image itself (intermediate buffers).
const MAX_DECODER_ALLOC: u64 = 2 * MAX_PIXELS * 4;

/// File extensions this build decodes, for the file dialog's filter.
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "ico", "pbm", "pgm", "ppm", "pam",
    "tga", "qoi",
];

/// How the pixels are stored after the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// RGBA8 pixels, row by row: no encoding work at all, the fastest.
    #[default]
    Raw,
    /// A PNG file: compact, costs compression time.
    Png,
}

impl Encoding {
    pub fn code(self) -> u32 {
        match self {
            Self::Raw => 1,
            Self::Png => 2,
        }
    }

    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Self::Raw),
            2 => Some(Self::Png),
            _ => None,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Raw => "raw",
            Self::Png => "png",
        })
    }
}

impl FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "raw" => Ok(Self::Raw),
            "png" => Ok(Self::Png),
            other => Err(format!("unknown encoding {other:?}: use raw or png")),
        }
    }
}

/// Everything that can be wrong with an image file or a segment's contents.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("cannot read {path}: {source}", path = path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{what} is not an image this program can read (it reads {formats})",
        formats = SUPPORTED_EXTENSIONS.join(", "))]
    NotAnImage { what: String },

    #[error("{what} is a damaged {format} image: {detail}")]
    Damaged {
        what: String,
        format: String,
        detail: String,
    },

    #[error("the image is {width}x{height} pixels, over the limit of {MAX_SIDE} pixels a side and {limit} megapixels",
        limit = MAX_PIXELS / (1024 * 1024))]
    TooLarge { width: u32, height: u32 },

    #[error("{what} is over the limit of {MAX_SIDE} pixels a side and {limit} megapixels (or needs more memory to decode than that allows); refused before decoding",
        limit = MAX_PIXELS / (1024 * 1024))]
    OverLimits { what: String },

    #[error("{what} is an animation of {width}x{height} pixels, over the limit of {limit} megapixels for animations (each frame is composed on a whole canvas and shared as one); refused before decoding",
        limit = MAX_ANIMATION_PIXELS / (1024 * 1024))]
    AnimationTooLarge {
        what: String,
        width: u32,
        height: u32,
    },

    #[error("cannot encode the image: {detail}")]
    Encode { detail: String },

    #[error("the segment is too short ({len} bytes) to hold an image header")]
    TooShort { len: u64 },

    #[error("the segment does not hold a shmimage image: it starts with {starts_with}")]
    ForeignData { starts_with: String },

    #[error(
        "the segment was written by a newer shmimage (format version {found}, this one reads {})",
        header::FORMAT_VERSION
    )]
    UnsupportedVersion { found: u32 },

    #[error("the segment does not hold an image in Qt's format: {detail}")]
    NotQtImage { detail: String },

    #[error("the image is incomplete: its publisher stopped while writing it; publish it again")]
    Incomplete,

    #[error("the segment's header is damaged (its checksum does not match)")]
    HeaderDamaged,

    #[error("the segment uses an unknown encoding (code {code})")]
    UnknownEncoding { code: u32 },

    #[error("the segment claims {claimed} bytes of image but holds only {available}")]
    PayloadTooLong { claimed: u64, available: u64 },

    #[error(
        "the segment claims {claimed} bytes of image, more than any image within the limits needs ({MAX_SEGMENT_BYTES} bytes)"
    )]
    PayloadOverLimit { claimed: u64 },

    #[error(
        "the segment claims a {width}x{height} raw image but holds {payload_len} bytes of pixels"
    )]
    SizeMismatch {
        width: u32,
        height: u32,
        payload_len: u64,
    },

    #[error(
        "the image is damaged: its checksum is {actual:08x}, the header says {expected:08x}; its bytes changed after it was published (segments are written once and read under the lock, so reading again gives the same result): publish the image again"
    )]
    ChecksumMismatch { expected: u32, actual: u32 },

    #[error(
        "{what} holds {has} bytes, too few for {shape}, which needs {needed} bytes: check the shape given with --raw"
    )]
    RawTooSmall {
        what: String,
        shape: String,
        needed: u64,
        has: u64,
    },
}

/// An image decoded from a file, as RGBA8 and upright.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub image: RgbaImage,
    pub format: ImageFormat,
    /// Something the user should know about the conversion, e.g. "first frame of an animation".
    pub note: Option<String>,
}

/// Reads and decodes an image file. See [`decode_bytes`].
pub fn decode_file(path: &Path) -> Result<LoadedImage, CodecError> {
    let bytes = std::fs::read(path).map_err(|source| CodecError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    decode_bytes(&bytes, &path.display().to_string())
}

/// Decodes any supported format into upright RGBA8. The size in the file's header is checked
/// against the limits before the pixels are allocated, so an image over them costs nothing,
/// and one within them at most its pixels (1 GiB at the limit), however small its file.
/// 16-bit, grey, palette and CMYK images are converted; EXIF orientation is applied.
pub fn decode_bytes(bytes: &[u8], what: &str) -> Result<LoadedImage, CodecError> {
    let not_an_image = || CodecError::NotAnImage {
        what: what.to_owned(),
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_an_image())?;
    let format = reader.format().ok_or_else(not_an_image)?;
    check_before_decoding(bytes, format, what)?;
    reader.limits(decode_limits());
    let damaged = |err: image::ImageError| damaged(what, format, err);
    let mut decoder = reader.into_decoder().map_err(damaged)?;
    let (width, height) = decoder.dimensions();
    header::check_dimensions(width, height)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image =
        without_panics(what, format, || DynamicImage::from_decoder(decoder))?.map_err(damaged)?;
    image.apply_orientation(orientation);
    let note = match format {
        ImageFormat::Gif if is_animated_gif(bytes) => {
            Some("animated GIF: showing its first frame".to_owned())
        }
        // The JPEG decoder shows what arrived and paints the rest grey, without a word.
        ImageFormat::Jpeg if !jpeg_is_complete(bytes) => Some(
            "incomplete JPEG: the file ends before the image does, so its lower part is missing"
                .to_owned(),
        ),
        _ => None,
    };
    Ok(LoadedImage {
        image: image.into_rgba8(),
        format,
        note,
    })
}

/// What every decoder entry (a still image, an animation's frames) checks before the decoder
/// sees the bytes: the inputs known to make a decoder panic.
fn check_before_decoding(bytes: &[u8], format: ImageFormat, what: &str) -> Result<(), CodecError> {
    if format == ImageFormat::Png
        && let Err(detail) = check_png_palette(bytes)
    {
        return Err(CodecError::Damaged {
            what: what.to_owned(),
            format: format_name(format),
            detail,
        });
    }
    Ok(())
}

/// Runs decoder code: a decoder bug must not take the process down, so its panic becomes a
/// "damaged" error. Every call into a decoder goes through here.
fn without_panics<T>(
    what: &str,
    format: ImageFormat,
    decode: impl FnOnce() -> T,
) -> Result<T, CodecError> {
    crate::panics::catch(decode).map_err(|_| CodecError::Damaged {
        what: what.to_owned(),
        format: format_name(format),
        detail: "the decoder failed on it".to_owned(),
    })
}

/// The png crate (0.18.1) panics on a palette that is not whole RGB triples, is longer than 256
/// entries, or has more transparency entries than colours (found by `fuzz/`). Such files are
/// damaged anyway: refuse them before decoding. Walks the chunks up to the first IDAT.
fn check_png_palette(bytes: &[u8]) -> Result<(), String> {
    let mut at = 8; // signature
    let mut indexed = false;
    let mut palette_len = None;
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = &header[4..8];
        match kind {
            b"IHDR" => indexed = bytes.get(at + 8 + 9) == Some(&3),
            b"PLTE" => {
                if len == 0 || !len.is_multiple_of(3) || len > 256 * 3 {
                    return Err(format!(
                        "its palette has {len} bytes, not 1 to 256 RGB entries"
                    ));
                }
                palette_len = Some(len / 3);
            }
            b"tRNS" if indexed && len > palette_len.unwrap_or(0) => {
                return Err(format!(
                    "it has {len} transparency entries for a palette of {}",
                    palette_len.unwrap_or(0)
                ));
            }
            b"IDAT" | b"IEND" => break,
            _ => {}
        }
        at = at.saturating_add(12).saturating_add(len);
    }
    Ok(())
}

fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    limits
}

fn damaged(what: &str, format: ImageFormat, err: image::ImageError) -> CodecError {
    match err {
        // The decoder read the declared size and refused it: a bomb, or simply too big.
        image::ImageError::Limits(_) => CodecError::OverLimits {
            what: what.to_owned(),
        },
        image::ImageError::Unsupported(_) => CodecError::NotAnImage {
            what: what.to_owned(),
        },
        other => CodecError::Damaged {
            what: what.to_owned(),
            format: format_name(format),
            detail: other.to_string(),
        },
    }
}

fn format_name(format: ImageFormat) -> String {
    format
        .extensions_str()
        .first()
        .map_or_else(|| format!("{format:?}"), |ext| ext.to_ascii_uppercase())
}

/// A whole JPEG ends with its EOI marker (FF D9), after the last scan; a file cut short has none
/// there. (Bytes after EOI, which some writers leave, do not matter.)
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes
        .windows(2)
        .rposition(|pair| pair == [0xFF, 0xDA])
        .unwrap_or(0);
    bytes[last_scan..]
        .windows(2)
        .any(|pair| pair == [0xFF, 0xD9])
}

/// Read from the file's structure: decoding two frames to find out cost two whole canvases.
fn is_animated_gif(bytes: &[u8]) -> bool {
    animation::gif_frames_at_least(bytes, 2)
}

/// Encodes RGBA8 pixels as a PNG with fast settings: speed matters more than size here.
pub fn encode_png(image: &RgbaImage) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(image.as_raw().len() / 2);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgba8,
        )
        .map_err(|err| CodecError::Encode {
            detail: err.to_string(),
        })?;
    Ok(out)
}

/// Saves an image in the format named by `path`'s extension; formats without alpha get RGB.
/// Written as [`crate::output::write_replacing`] writes: never through a link planted at or
/// beside `path`.
pub fn save_image(image: &RgbaImage, path: &Path) -> Result<(), CodecError> {
    let format = ImageFormat::from_path(path).map_err(|_| CodecError::NotAnImage {
        what: format!("{} (unknown extension)", path.display()),
    })?;
    crate::output::write_replacing(path, |writer| {
        // Only the formats without alpha pay for a converted copy.
        if matches!(format, ImageFormat::Jpeg | ImageFormat::Pnm) {
            DynamicImage::ImageRgba8(image.clone())
                .to_rgb8()
                .write_to(writer, format)
        } else {
            image.write_to(writer, format)
        }
    })
    .map_err(|err| match err {
        image::ImageError::IoError(source) => CodecError::Unreadable {
            path: path.to_path_buf(),
            source,
        },
        other => CodecError::Encode {
            detail: format!("{}: {other}", path.display()),
        },
    })
}

/// Turns a checked payload back into pixels. `payload` must already match `header.payload_crc`.
pub fn decode_payload(header: &Header, payload: Vec<u8>) -> Result<RgbaImage, CodecError> {
    let (width, height) = (header.width, header.height);
    let image = match header.encoding {
        Encoding::Raw => {
            RgbaImage::from_raw(width, height, payload).ok_or(CodecError::SizeMismatch {
                width,
                height,
                payload_len: header.payload_len,
            })?
        }
        Encoding::Png => {
            let loaded = decode_bytes(&payload, "the shared PNG")?;
            if loaded.format != ImageFormat::Png {
                return Err(CodecError::NotAnImage {
                    what: "the shared PNG".to_owned(),
                });
            }
            loaded.image
        }
    };
    if image.dimensions() != (width, height) {
        return Err(CodecError::SizeMismatch {
            width,
            height,
            payload_len: header.payload_len,
        });
    }
    Ok(image)
}

/// Every check a reader makes, applied to a private copy of a whole segment: header, sizes,
/// checksum, then decoding. `protocol::fetch` does the same while copying (the checksum is computed
/// chunk by chunk as the bytes arrive); this form is for the fuzzer and for tools.
pub fn decode_segment(segment: &[u8]) -> Result<(Header, RgbaImage), CodecError> {
    let header = Header::parse(segment, segment.len() as u64)?;
    let payload = &segment[HEADER_LEN..HEADER_LEN + header.payload_len as usize];
    let actual = crc32fast::hash(payload);
    if actual != header.payload_crc {
        return Err(CodecError::ChecksumMismatch {
            expected: header.payload_crc,
            actual,
        });
    }
    let image = decode_payload(&header, payload.to_vec())?;
    Ok((header, image))
}

#[cfg(test)]
mod tests;
