//! A Qt-format segment (`QDataStream << QImage`: marker, then a PNG walked chunk by chunk).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|segment: &[u8]| {
    let _ = shmimage::codec::qt::decode(segment);
});
