//! A whole native segment as another process might have left it: header, sizes, checksum and
//! payload decoding must answer with an error or an image, never panic or over-allocate.
//! Each input is tried twice: as it is, and with its checksums made right, so that the fuzzer
//! also reaches the payload decoders instead of stopping at a checksum mismatch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmimage::codec::{HEADER_LEN, decode_segment};

fuzz_target!(|segment: &[u8]| {
    check(segment);
    if segment.len() >= HEADER_LEN {
        let mut fixed = segment.to_vec();
        let claimed = u64::from_le_bytes(fixed[32..40].try_into().unwrap_or_default());
        let end = (HEADER_LEN as u64).saturating_add(claimed);
        if end <= fixed.len() as u64 {
            let crc = crc32fast::hash(&fixed[HEADER_LEN..end as usize]);
            fixed[48..52].copy_from_slice(&crc.to_le_bytes());
        }
        let header_crc = crc32fast::hash(&fixed[..52]);
        fixed[52..56].copy_from_slice(&header_crc.to_le_bytes());
        fixed[56..60].copy_from_slice(b"DONE");
        check(&fixed);
    }
});

fn check(segment: &[u8]) {
    if let Ok((header, image)) = decode_segment(segment) {
        assert_eq!(image.dimensions(), (header.width, header.height));
    }
}
