//! A whole native segment as another process might have left it: header, sizes, checksum and
//! payload decoding must answer with an error or an image, never panic or over-allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|segment: &[u8]| {
    if let Ok((header, image)) = shmimage::codec::decode_segment(segment) {
        assert_eq!(image.dimensions(), (header.width, header.height));
    }
});
