//! The bytes Qt's example puts in its segment: `QDataStream << QImage`, which on Qt 5.15 is a
//! big-endian `qint32` marker (1 for an image, 0 for a null image) followed by one PNG file, with
//! no length field and no trailer. The segment may be longer than that; the rest is ignored.

use image::RgbaImage;

use super::{CodecError, decode_bytes, encode_png};

const MARKER_LEN: usize = 4;
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// How many bytes [`starts_like_an_image`] looks at.
pub const IMAGE_START_LEN: usize = MARKER_LEN + PNG_SIGNATURE.len();

/// Whether `start` begins as Qt's `QDataStream << QImage` does: marker 1, then a PNG signature.
pub fn starts_like_an_image(start: &[u8]) -> bool {
    start.get(..MARKER_LEN) == Some(&1i32.to_be_bytes()[..])
        && start.get(MARKER_LEN..IMAGE_START_LEN) == Some(&PNG_SIGNATURE[..])
}

/// What Qt's `loadFromFile` writes for `image`.
///
/// ```
/// use shmimage::codec::qt;
///
/// let image = image::RgbaImage::from_pixel(2, 2, image::Rgba([1, 2, 3, 255]));
/// let buffer = qt::encode(&image)?; // QBuffer + QDataStream << image
/// assert!(qt::starts_like_an_image(&buffer));
/// assert_eq!(qt::decode(&buffer)?, image); // QDataStream >> image
/// # Ok::<(), shmimage::codec::CodecError>(())
/// ```
pub fn encode(image: &RgbaImage) -> Result<Vec<u8>, CodecError> {
    let png = encode_png(image)?;
    let mut bytes = Vec::with_capacity(MARKER_LEN + png.len());
    bytes.extend_from_slice(&1i32.to_be_bytes());
    bytes.extend_from_slice(&png);
    Ok(bytes)
}

/// What Qt's `loadFromMemory` reads: the marker, then a PNG found by walking its chunks to IEND,
/// so zero padding or stale bytes after it do not matter.
pub fn decode(segment: &[u8]) -> Result<RgbaImage, CodecError> {
    let Some((marker, rest)) = segment.split_first_chunk::<MARKER_LEN>() else {
        return Err(CodecError::TooShort {
            len: segment.len() as u64,
        });
    };
    if i32::from_be_bytes(*marker) == 0 {
        return Err(CodecError::NotQtImage {
            detail: "it holds Qt's marker for a null image (the writer shared no picture)"
                .to_owned(),
        });
    }
    let png_len = png_length(rest).ok_or_else(|| CodecError::NotQtImage {
        detail: format!(
            "no complete PNG follows Qt's marker (it continues with {})",
            super::header::describe_start(rest)
        ),
    })?;
    Ok(decode_bytes(&rest[..png_len], "the image in Qt's segment")?.image)
}

/// Length of the PNG file at the start of `bytes` (signature to the end of IEND), if it is whole.
fn png_length(bytes: &[u8]) -> Option<usize> {
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return None;
    }
    let mut at = PNG_SIGNATURE.len();
    loop {
        let length: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        let chunk_type = bytes.get(at + 4..at + 8)?;
        // length + type + data + CRC; checked so a hostile length cannot overflow.
        let end = at
            .checked_add(12)?
            .checked_add(u32::from_be_bytes(length) as usize)?;
        if end > bytes.len() {
            return None;
        }
        if chunk_type == b"IEND" {
            return Some(end);
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> RgbaImage {
        RgbaImage::from_fn(7, 5, |x, y| {
            image::Rgba([x as u8 * 30, y as u8 * 40, 9, 255])
        })
    }

    #[test]
    fn round_trip_with_padding_after_iend() {
        let mut bytes = encode(&image()).unwrap();
        assert_eq!(&bytes[..5], &[0, 0, 0, 1, 0x89]);
        bytes.extend_from_slice(&[0xAB; 300]);
        assert_eq!(decode(&bytes).unwrap(), image());
    }

    #[test]
    fn null_images_cut_pngs_and_hostile_lengths_are_errors() {
        assert!(decode(&[0, 0, 0, 0, 1, 2]).is_err());
        assert!(decode(&[0, 0]).is_err());
        let bytes = encode(&image()).unwrap();
        assert!(decode(&bytes[..bytes.len() - 3]).is_err());
        let mut hostile = vec![0, 0, 0, 1];
        hostile.extend_from_slice(&PNG_SIGNATURE);
        hostile.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, b'I', b'D', b'A', b'T']);
        assert!(decode(&hostile).is_err());
    }
}
