//! The 64-byte header at the start of every segment: it is checked before a single payload
//! byte is trusted, so a reader never decodes a torn, foreign or oversized image.

use super::{CodecError, Encoding, MAX_PIXELS, MAX_SEGMENT_BYTES, MAX_SIDE};

pub const MAGIC: [u8; 8] = *b"SHMIMAGE";
pub const FORMAT_VERSION: u32 = 1;
pub const HEADER_LEN: usize = 64;
/// Offset of the commit word, which the writer sets after everything else.
pub const COMMIT_OFFSET: usize = 56;
pub const COMMIT_WORD: [u8; 4] = *b"DONE";
const HEADER_CRC_OFFSET: usize = 52;

/// What the header says about the image that follows it.
///
/// The header's bytes, all integers little-endian:
///
/// ```text
/// offset size field
///      0    8 magic "SHMIMAGE"
///      8    4 format version (1)
///     12    4 encoding (1 = raw RGBA8, 2 = PNG)
///     16    4 width            20  4 height
///     24    4 publisher pid    28  4 reserved (0)
///     32    8 payload length in bytes (payload starts at offset 64)
///     40    8 generation (grows with every publish under the key)
///     48    4 CRC-32 of the payload
///     52    4 CRC-32 of bytes 0..52
///     56    4 commit word "DONE", written last: without it the image is incomplete
///     60    4 reserved (0)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub encoding: Encoding,
    pub width: u32,
    pub height: u32,
    pub publisher_pid: u32,
    pub payload_len: u64,
    pub generation: u64,
    pub payload_crc: u32,
}

impl Header {
    /// The header bytes up to (not including) the commit word.
    pub fn to_bytes(&self) -> [u8; COMMIT_OFFSET] {
        let mut out = [0u8; COMMIT_OFFSET];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.encoding.code().to_le_bytes());
        out[16..20].copy_from_slice(&self.width.to_le_bytes());
        out[20..24].copy_from_slice(&self.height.to_le_bytes());
        out[24..28].copy_from_slice(&self.publisher_pid.to_le_bytes());
        out[32..40].copy_from_slice(&self.payload_len.to_le_bytes());
        out[40..48].copy_from_slice(&self.generation.to_le_bytes());
        out[48..52].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32fast::hash(&out[..HEADER_CRC_OFFSET]);
        out[HEADER_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses and checks a header read from a segment of `segment_len` bytes. Everything that
    /// can be checked without the payload is checked here, before any payload is allocated.
    pub fn parse(bytes: &[u8], segment_len: u64) -> Result<Self, CodecError> {
        if bytes.len() < HEADER_LEN || segment_len < HEADER_LEN as u64 {
            return Err(CodecError::TooShort { len: segment_len });
        }
        if bytes[0..8] != MAGIC {
            return Err(CodecError::ForeignData {
                starts_with: describe_start(bytes),
            });
        }
        let version = u32_at(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(CodecError::UnsupportedVersion { found: version });
        }
        if bytes[COMMIT_OFFSET..COMMIT_OFFSET + 4] != COMMIT_WORD {
            return Err(CodecError::Incomplete);
        }
        let stored_crc = u32_at(bytes, HEADER_CRC_OFFSET);
        if crc32fast::hash(&bytes[..HEADER_CRC_OFFSET]) != stored_crc {
            return Err(CodecError::HeaderDamaged);
        }
        let encoding =
            Encoding::from_code(u32_at(bytes, 12)).ok_or(CodecError::UnknownEncoding {
                code: u32_at(bytes, 12),
            })?;
        let header = Self {
            encoding,
            width: u32_at(bytes, 16),
            height: u32_at(bytes, 20),
            publisher_pid: u32_at(bytes, 24),
            payload_len: u64_at(bytes, 32),
            generation: u64_at(bytes, 40),
            payload_crc: u32_at(bytes, 48),
        };
        header.check_sizes(segment_len)?;
        Ok(header)
    }

    fn check_sizes(&self, segment_len: u64) -> Result<(), CodecError> {
        let available = segment_len - HEADER_LEN as u64;
        if self.payload_len > available {
            return Err(CodecError::PayloadTooLong {
                claimed: self.payload_len,
                available,
            });
        }
        check_dimensions(self.width, self.height)?;
        // Raw payloads are bounded by the dimensions below; a PNG's only by this.
        if self.payload_len > MAX_SEGMENT_BYTES {
            return Err(CodecError::PayloadOverLimit {
                claimed: self.payload_len,
            });
        }
        if self.encoding == Encoding::Raw {
            let expected = u64::from(self.width) * u64::from(self.height) * 4;
            if self.payload_len != expected {
                return Err(CodecError::SizeMismatch {
                    width: self.width,
                    height: self.height,
                    payload_len: self.payload_len,
                });
            }
        }
        Ok(())
    }
}

/// Refuses images that are empty or too large to decode safely.
pub fn check_dimensions(width: u32, height: u32) -> Result<(), CodecError> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE || pixels > MAX_PIXELS {
        return Err(CodecError::TooLarge { width, height });
    }
    Ok(())
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Names well-known foreign contents, so the error can say what is there instead.
pub(crate) fn describe_start(bytes: &[u8]) -> String {
    if bytes.len() >= 12 && bytes[0..4] == [0, 0, 0, 1] && bytes[4..12] == *b"\x89PNG\r\n\x1a\n" {
        return "a Qt QDataStream image (Qt's example writes these)".to_owned();
    }
    if bytes.iter().take(HEADER_LEN).all(|b| *b == 0) {
        return "zero bytes (nothing was written)".to_owned();
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("bytes {}", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_payload_over_what_any_image_needs_is_refused() {
        let header = Header {
            encoding: Encoding::Png,
            payload_len: 2 << 30,
            ..sample()
        };
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..COMMIT_OFFSET].copy_from_slice(&header.to_bytes());
        bytes[COMMIT_OFFSET..COMMIT_OFFSET + 4].copy_from_slice(&COMMIT_WORD);
        let err = Header::parse(&bytes, 3 << 30).unwrap_err();
        assert!(
            matches!(err, CodecError::PayloadOverLimit { claimed } if claimed == 2 << 30),
            "{err}"
        );
    }

    fn sample() -> Header {
        Header {
            encoding: Encoding::Raw,
            width: 3,
            height: 2,
            publisher_pid: 42,
            payload_len: 24,
            generation: 7,
            payload_crc: 0xdead_beef,
        }
    }

    fn committed(header: &Header) -> Vec<u8> {
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend_from_slice(&COMMIT_WORD);
        bytes.extend_from_slice(&[0; 4]);
        bytes
    }

    #[test]
    fn header_round_trips() {
        let bytes = committed(&sample());
        assert_eq!(Header::parse(&bytes, 64 + 24).unwrap(), sample());
    }

    #[test]
    fn every_damage_is_named() {
        let good = committed(&sample());
        let mut uncommitted = good.clone();
        uncommitted[COMMIT_OFFSET] = 0;
        assert!(matches!(
            Header::parse(&uncommitted, 88),
            Err(CodecError::Incomplete)
        ));
        let mut flipped = good.clone();
        flipped[17] ^= 1;
        assert!(matches!(
            Header::parse(&flipped, 88),
            Err(CodecError::HeaderDamaged)
        ));
        let mut newer = good.clone();
        newer[8] = 2;
        assert!(matches!(
            Header::parse(&newer, 88),
            Err(CodecError::UnsupportedVersion { found: 2 })
        ));
        assert!(matches!(
            Header::parse(&good, 80),
            Err(CodecError::PayloadTooLong { .. })
        ));
        assert!(matches!(
            Header::parse(&good[..10], 10),
            Err(CodecError::TooShort { .. })
        ));
        let qt = [&[0u8, 0, 0, 1][..], b"\x89PNG\r\n\x1a\n", &[0; 52]].concat();
        let err = Header::parse(&qt, 64).unwrap_err();
        assert!(err.to_string().contains("Qt"), "{err}");
    }

    #[test]
    fn huge_claims_are_refused_before_allocation() {
        let mut header = sample();
        header.width = 100_000;
        header.height = 100_000;
        header.payload_len = 4 * 100_000 * 100_000;
        let bytes = committed(&header);
        assert!(matches!(
            Header::parse(&bytes, u64::MAX / 2),
            Err(CodecError::TooLarge { .. })
        ));
        let mut liar = sample();
        liar.payload_len = 4 << 30;
        assert!(matches!(
            Header::parse(&committed(&liar), 88),
            Err(CodecError::PayloadTooLong { .. })
        ));
    }
}
