use super::*;

fn gradient(width: u32, height: u32) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([x as u8, y as u8, (x ^ y) as u8, 255 - x as u8])
    })
}

#[test]
fn a_whole_segment_decodes_and_a_flipped_byte_is_caught() {
    let image = gradient(5, 3);
    let header = Header {
        encoding: Encoding::Raw,
        width: 5,
        height: 3,
        publisher_pid: 1,
        payload_len: image.as_raw().len() as u64,
        generation: 1,
        payload_crc: crc32fast::hash(image.as_raw()),
    };
    let mut segment = header.to_bytes().to_vec();
    segment.extend_from_slice(&header::COMMIT_WORD);
    segment.resize(HEADER_LEN, 0);
    segment.extend_from_slice(image.as_raw());
    assert_eq!(decode_segment(&segment).unwrap(), (header, image));
    *segment.last_mut().unwrap() ^= 1;
    assert!(matches!(
        decode_segment(&segment),
        Err(CodecError::ChecksumMismatch { .. })
    ));
}

#[test]
fn malformed_palettes_are_damaged_not_a_panic() {
    // Found by `cargo fuzz run qt_payload`: a PLTE of 53 bytes made png 0.18.1 panic.
    let bytes = include_bytes!("../../tests/fixtures/png-palette-not-a-multiple-of-3.png");
    let err = decode_bytes(bytes, "fuzzed.png").unwrap_err();
    assert!(err.to_string().contains("palette has 53 bytes"), "{err}");
}

#[test]
fn png_round_trip_is_pixel_exact() {
    let image = gradient(40, 30);
    let png = encode_png(&image).unwrap();
    let header = Header {
        encoding: Encoding::Png,
        width: 40,
        height: 30,
        publisher_pid: 1,
        payload_len: png.len() as u64,
        generation: 1,
        payload_crc: 0,
    };
    assert_eq!(decode_payload(&header, png).unwrap(), image);
}

#[test]
fn text_is_not_an_image() {
    let err = decode_bytes(b"hello, I am text", "notes.png").unwrap_err();
    assert!(matches!(err, CodecError::NotAnImage { .. }), "{err}");
}

#[test]
fn encodings_parse_from_the_command_line() {
    assert_eq!("PNG".parse::<Encoding>().unwrap(), Encoding::Png);
    assert!("jpeg".parse::<Encoding>().is_err());
}
