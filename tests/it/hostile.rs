//! Odd and hostile image files, through `shmimage put` and back out with `shmimage get` (the
//! window decodes files with the same function). The corpus is generated here: by the image
//! crate, by hand for the bombs, and by ImageMagick for what the image crate cannot write
//! (palette PNG, CMYK JPEG, EXIF orientations). ImageMagick is also the independent reference
//! decoder the displayed pixels are compared with.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{ImageBuffer, Luma, LumaA, Rgba, RgbaImage};

use crate::util::{Publisher, Scratch, load, run_with_deadline, test_image};

/// What happened to a file: displayed (the image `get` returned, and `put`'s ready line), or
/// refused with one error line.
enum Outcome {
    Displayed { image: RgbaImage, ready: String },
    Refused(String),
}

/// Publishes `file`, fetches it in a second process, and reports what happened. The publisher
/// runs with at most 1 GiB of address space, so a decompression bomb that tried to allocate its
/// pixels would die instead of passing.
fn share(scratch: &Scratch, file: &Path) -> Outcome {
    let script = "ulimit -v 1048576; exec \"$@\"";
    let mut put = Command::new("sh");
    put.args(["-c", script, "sh", crate::util::BIN, "put"])
        .arg(file)
        .args(["--key", &scratch.key])
        .env("SHMIMAGE_DIR", scratch.seg_dir());
    let mut probe = Command::new("sh");
    probe
        .args(["-c", script, "sh", crate::util::BIN, "put"])
        .arg(file)
        .args(["--key", &scratch.key, "--hold-ms", "0"])
        .env("SHMIMAGE_DIR", scratch.seg_dir());
    // A quick run first: a refused file ends at once, with its error.
    let quick = run_with_deadline(probe);
    let stderr = String::from_utf8_lossy(&quick.stderr).into_owned();
    if !quick.status.success() {
        assert!(
            stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1,
            "not one clear error line: {quick:?}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        return Outcome::Refused(stderr);
    }
    let publisher = Publisher::start(put, "ready");
    let out = scratch.path("fetched.png");
    let _ = std::fs::remove_file(&out);
    scratch.ok(&["get", out.to_str().unwrap()]);
    let ready = publisher.first_line.clone();
    assert!(publisher.terminate().success());
    Outcome::Displayed {
        image: load(&out),
        ready,
    }
}

fn refused(scratch: &Scratch, file: &Path, says: &str) {
    match share(scratch, file) {
        Outcome::Refused(error) => assert!(error.contains(says), "{file:?}: {error}"),
        Outcome::Displayed { ready, .. } => panic!("{file:?} was displayed: {ready}"),
    }
}

fn displayed(scratch: &Scratch, file: &Path) -> (RgbaImage, String) {
    match share(scratch, file) {
        Outcome::Displayed { image, ready } => (image, ready),
        Outcome::Refused(error) => panic!("{file:?} was refused: {error}"),
    }
}

/// The image as ImageMagick decodes it (upright, first frame, 8-bit RGBA).
fn reference(file: &Path) -> RgbaImage {
    let source = format!("{}[0]", file.display());
    let size = Command::new("convert")
        .args([&source, "-auto-orient", "-format", "%w %h", "info:"])
        .output()
        .expect("ImageMagick's convert: run scripts/check.sh once (it installs imagemagick)");
    let size = String::from_utf8_lossy(&size.stdout).into_owned();
    let (w, h) = size.trim().split_once(' ').expect("size");
    let pixels = Command::new("convert")
        .args([&source, "-auto-orient", "-depth", "8", "rgba:-"])
        .output()
        .expect("convert");
    RgbaImage::from_raw(w.parse().unwrap(), h.parse().unwrap(), pixels.stdout)
        .expect("ImageMagick's pixels")
}

/// Same size, and every channel within `tolerance` on average (0 = identical).
fn assert_matches(shown: &RgbaImage, expected: &RgbaImage, tolerance: f64, what: &str) {
    assert_eq!(shown.dimensions(), expected.dimensions(), "{what}: size");
    let total: u64 = shown
        .as_raw()
        .iter()
        .zip(expected.as_raw())
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = total as f64 / shown.as_raw().len() as f64;
    assert!(
        mean <= tolerance,
        "{what}: mean difference {mean:.2} > {tolerance}"
    );
}

fn magick(args: &[&str]) {
    let status = Command::new("convert")
        .args(args)
        .status()
        .expect("convert");
    assert!(status.success(), "convert {args:?}");
}

/// A picture with distinct corners, so that a wrong rotation or flip shows.
fn corners(width: u32, height: u32) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        let right = x >= width / 2;
        let bottom = y >= height / 2;
        match (right, bottom) {
            (false, false) => Rgba([230, 30, 30, 255]),
            (true, false) => Rgba([30, 200, 30, 255]),
            (false, true) => Rgba([30, 30, 230, 255]),
            (true, true) => Rgba([240, 240, 30, 255]),
        }
    })
}

fn file_with(scratch: &Scratch, name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch.path(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A PNG chunk with its CRC.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    chunk
}

/// A JPEG with an EXIF block holding only the orientation tag (0x0112), right after SOI: the
/// pixels stay as stored, and a viewer must turn them.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec(); // big-endian TIFF, first IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // padding of the 4-byte value field
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&(app1.len() as u16 + 2).to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn empty_text_and_missing_files_are_refused_with_a_reason() {
    let scratch = Scratch::new("bad-basic");
    refused(
        &scratch,
        &file_with(&scratch, "empty.png", b""),
        "is not an image",
    );
    refused(
        &scratch,
        &file_with(&scratch, "notes.png", b"shopping list: milk"),
        "is not an image",
    );
    // Picked, then gone (or replaced by a directory) before it was read.
    refused(&scratch, &scratch.path("vanished.png"), "cannot read");
    std::fs::create_dir(scratch.path("folder.png")).unwrap();
    refused(&scratch, &scratch.path("folder.png"), "cannot read");
}

#[test]
fn cut_and_corrupted_files_are_refused_or_shown_never_a_panic() {
    let scratch = Scratch::new("bad-cut");
    let noise = test_image(200, 150, 3);
    let png = scratch.save("whole.png", &noise);
    let bytes = std::fs::read(&png).unwrap();
    refused(
        &scratch,
        &file_with(&scratch, "half.png", &bytes[..bytes.len() / 2]),
        "damaged",
    );
    // One bit flipped in the first IDAT's data: its CRC no longer matches.
    let idat = bytes.windows(4).position(|w| w == b"IDAT").unwrap();
    let mut flipped = bytes.clone();
    flipped[idat + 10] ^= 0x01;
    refused(
        &scratch,
        &file_with(&scratch, "bad-crc.png", &flipped),
        "damaged",
    );

    let jpeg = scratch.path("whole.jpg");
    image::DynamicImage::ImageRgba8(noise)
        .to_rgb8()
        .save(&jpeg)
        .unwrap();
    let bytes = std::fs::read(&jpeg).unwrap();
    let half = file_with(&scratch, "half.jpg", &bytes[..bytes.len() / 2]);
    // JPEG decoders may show what arrived and grey out the rest (browsers do): either is fine,
    // as long as it is a clean outcome of the right size, and says that the image is incomplete.
    match share(&scratch, &half) {
        Outcome::Refused(error) => assert!(error.contains("damaged"), "{error}"),
        Outcome::Displayed { image, ready } => {
            assert_eq!(image.dimensions(), (200, 150));
            assert!(ready.contains("incomplete JPEG"), "{ready}");
        }
    }
    // On stderr too, and the whole file gets no such note.
    let said = run_with_deadline({
        let mut put = scratch.cmd(&["put", half.to_str().unwrap(), "--hold-ms", "0"]);
        put.env_remove("RUST_LOG");
        put
    });
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(
        said.status.success() && err.contains("note: incomplete JPEG"),
        "{said:?}"
    );
    let said = run_with_deadline(scratch.cmd(&["put", jpeg.to_str().unwrap(), "--hold-ms", "0"]));
    assert!(
        said.status.success() && !String::from_utf8_lossy(&said.stderr).contains("note:"),
        "{said:?}"
    );
}

#[test]
fn decompression_bombs_are_refused_before_any_pixel_is_allocated() {
    let scratch = Scratch::new("bombs");
    // PNG: a valid header declaring 100000x100000 RGBA (40 GB), then a tiny IDAT.
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    refused(
        &scratch,
        &file_with(&scratch, "bomb.png", &png),
        "over the limit",
    );

    // GIF: a 65535x65535 screen and frame (4.3 gigapixels) with a few bytes of LZW data.
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x80, 0, 0]);
    gif.extend_from_slice(&[0, 0, 0, 255, 255, 255]); // two-colour global palette
    gif.extend_from_slice(&[0x2c, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0]);
    gif.extend_from_slice(&[2, 2, 0x4c, 0x01, 0, 0x3b]);
    refused(
        &scratch,
        &file_with(&scratch, "bomb.gif", &gif),
        "over the limit",
    );
}

/// An animated GIF is played (each frame shared at its delay); its first frame, which stays up
/// for a minute here, has exactly ImageMagick's pixels.
#[test]
fn an_animated_gif_is_played_and_its_first_frame_has_imagemagicks_pixels() {
    use image::codecs::gif::GifEncoder;
    let scratch = Scratch::new("animated");
    let first = corners(30, 20);
    let second = test_image(30, 20, 99);
    let path = scratch.path("animated.gif");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut encoder = GifEncoder::new(file);
        for frame in [&first, &second] {
            let delay = image::Delay::from_numer_denom_ms(60_000, 1);
            encoder
                .encode_frame(image::Frame::from_parts(frame.clone(), 0, 0, delay))
                .unwrap();
        }
    }
    let (shown, ready) = displayed(&scratch, &path);
    assert!(ready.contains("(animation)"), "{ready}");
    assert_matches(&shown, &reference(&path), 0.0, "animated GIF");
}

#[test]
fn sixteen_bit_grey_and_palette_pngs_show_the_same_pixels_as_imagemagick() {
    let scratch = Scratch::new("png-kinds");

    let deep: ImageBuffer<Rgba<u16>, Vec<u16>> = ImageBuffer::from_fn(64, 48, |x, y| {
        Rgba([
            (x * 1000) as u16,
            (y * 1300) as u16,
            40_000,
            65_535 - (x * y) as u16,
        ])
    });
    let deep_path = scratch.path("16bit.png");
    deep.save(&deep_path).unwrap();
    let grey: ImageBuffer<Luma<u8>, Vec<u8>> =
        ImageBuffer::from_fn(50, 30, |x, y| Luma([(x * 5 + y) as u8]));
    let grey_path = scratch.path("grey.png");
    grey.save(&grey_path).unwrap();
    let grey_alpha: ImageBuffer<LumaA<u8>, Vec<u8>> =
        ImageBuffer::from_fn(50, 30, |x, y| LumaA([(x * 5) as u8, (y * 8) as u8]));
    let grey_alpha_path = scratch.path("grey-alpha.png");
    grey_alpha.save(&grey_alpha_path).unwrap();
    let few_colours = RgbaImage::from_fn(40, 40, |x, y| match (x / 10 + y / 10) % 3 {
        0 => Rgba([255, 0, 0, 255]),
        1 => Rgba([0, 0, 255, 128]),
        _ => Rgba([0, 0, 0, 0]),
    });
    let source = scratch.save("few.png", &few_colours);
    let palette_path = scratch.path("palette.png");
    magick(&[
        source.to_str().unwrap(),
        &format!("PNG8:{}", palette_path.display()),
    ]);
    // Extreme shapes: compared with the pixels they were made from (PNG is lossless; Debian's
    // ImageMagick policy refuses images over 16000 pixels wide, so it cannot be the reference).
    for original in [test_image(1, 1, 200), test_image(20_000, 300, 4)] {
        let name = format!("{}x{}.png", original.width(), original.height());
        let (shown, _) = displayed(&scratch, &scratch.save(&name, &original));
        assert_matches(&shown, &original, 0.0, &name);
    }

    for (path, tolerance) in [
        (&deep_path, 1.0), // 16 to 8 bits: decoders may round differently by one
        (&grey_path, 0.0),
        (&grey_alpha_path, 0.0),
        (&palette_path, 0.0),
    ] {
        let (shown, _) = displayed(&scratch, path);
        assert_matches(
            &shown,
            &reference(path),
            tolerance,
            &path.display().to_string(),
        );
    }
}

#[test]
fn cmyk_jpegs_and_every_exif_orientation_show_upright_like_imagemagick() {
    let scratch = Scratch::new("jpeg-kinds");
    let picture = scratch.save("corners.png", &corners(40, 24));
    let cmyk = scratch.path("cmyk.jpg");
    magick(&[
        picture.to_str().unwrap(),
        "-colorspace",
        "CMYK",
        "-quality",
        "95",
        cmyk.to_str().unwrap(),
    ]);
    let (shown, _) = displayed(&scratch, &cmyk);
    assert_matches(&shown, &reference(&cmyk), 6.0, "CMYK JPEG");

    let names = [
        "TopLeft",
        "TopRight",
        "BottomRight",
        "BottomLeft",
        "LeftTop",
        "RightTop",
        "RightBottom",
        "LeftBottom",
    ];
    let plain = scratch.path("plain.jpg");
    magick(&[
        picture.to_str().unwrap(),
        "-quality",
        "95",
        plain.to_str().unwrap(),
    ]);
    let plain = std::fs::read(&plain).unwrap();
    for (index, name) in names.iter().enumerate() {
        let path = file_with(
            &scratch,
            &format!("orientation-{}.jpg", index + 1),
            &with_exif_orientation(&plain, index as u16 + 1),
        );
        let tag = Command::new("identify")
            .args(["-format", "%[EXIF:Orientation]", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&tag.stdout).trim(),
            (index + 1).to_string(),
            "EXIF tag of {name}"
        );
        let (shown, _) = displayed(&scratch, &path);
        let expected = reference(&path);
        if index >= 4 {
            assert_eq!(
                shown.dimensions(),
                (24, 40),
                "orientation {} turns the picture",
                index + 1
            );
        }
        assert_matches(
            &shown,
            &expected,
            3.0,
            &format!("EXIF orientation {}", index + 1),
        );
    }
}
