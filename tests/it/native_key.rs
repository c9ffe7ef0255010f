//! Qt's setNativeKey: shmimage reads a POSIX shared-memory object that Python's standard library
//! (`multiprocessing.shared_memory`, no numpy) created, by its exact name.

use std::process::{Command, Stdio};

use crate::util::{Publisher, Scratch, load};

/// A Python process that creates the object `name` of `size` bytes, byte i being
/// `(i * 7 + 3) % 256`, says "ready", and removes it when its stdin closes.
fn python_object(name: &str, size: usize) -> Publisher {
    const PEER: &str = r#"
import sys
from multiprocessing import shared_memory
name, size = sys.argv[1], int(sys.argv[2])
shm = shared_memory.SharedMemory(name=name, create=True, size=size)
shm.buf[:size] = bytes((i * 7 + 3) % 256 for i in range(size))
print("ready", flush=True)
sys.stdin.read()
shm.close()
shm.unlink()
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PEER, name, &size.to_string()])
        .stdin(Stdio::piped());
    Publisher::start(cmd, "ready")
}

fn pattern(i: usize) -> u8 {
    ((i * 7 + 3) % 256) as u8
}

/// What pixel (x, y) must be, worked out here from the pattern (not with shmimage's code).
fn expected(format: &str, width: usize, height: usize, stride: usize) -> image::RgbaImage {
    image::RgbaImage::from_fn(width as u32, height as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let byte = |bpp: usize, k: usize| pattern(y * stride + x * bpp + k);
        image::Rgba(match format {
            "rgba8" => [byte(4, 0), byte(4, 1), byte(4, 2), byte(4, 3)],
            "bgra8" => [byte(4, 2), byte(4, 1), byte(4, 0), byte(4, 3)],
            "rgb8" => [byte(3, 0), byte(3, 1), byte(3, 2), 255],
            "bgr8" => [byte(3, 2), byte(3, 1), byte(3, 0), 255],
            "gray8" => [byte(1, 0), byte(1, 0), byte(1, 0), 255],
            // Little-endian 16-bit: shown by its high byte.
            "gray16" => [byte(2, 1), byte(2, 1), byte(2, 1), 255],
            other => panic!("{other}"),
        })
    })
}

#[test]
fn python_writes_each_format_and_shmimage_reads_it_pixel_exact() {
    let scratch = Scratch::new("native-key");
    for (format, bpp) in [
        ("rgba8", 4),
        ("rgb8", 3),
        ("bgr8", 3),
        ("bgra8", 4),
        ("gray8", 1),
        ("gray16", 2),
    ] {
        let (width, height) = (13, 7);
        // Rows padded to a stride, as OpenCV and cameras do, for the 3-byte formats.
        let stride = if bpp == 3 {
            width * bpp + 5
        } else {
            width * bpp
        };
        let name = format!("shmimage_test_{}_{format}", std::process::id());
        let peer = python_object(&name, stride * (height - 1) + width * bpp);
        let out = scratch.path(&format!("{format}.png"));
        let shape = format!("{width}x{height}:{format}:{stride}");
        let said = scratch.ok(&[
            "get",
            out.to_str().unwrap(),
            "--native-key",
            &format!("/{name}"),
            "--raw",
            &shape,
        ]);
        assert!(said.contains("saved 13x7"), "{said}");
        assert_eq!(
            load(&out),
            expected(format, width, height, stride),
            "{format}"
        );
        let info = scratch.ok(&["info", "--native-key", &name, "--raw", &shape]);
        assert!(
            info.contains(&format!("/dev/shm/{name}")) && info.contains("uid"),
            "{info}"
        );
        assert!(
            info.contains(&format!("raw {shape}"))
                || info.contains(&format!("raw {width}x{height}:{format}")),
            "{info}"
        );
        drop(peer);
    }
}

#[test]
fn an_object_shorter_than_the_shape_is_refused_with_both_sizes() {
    let scratch = Scratch::new("native-short");
    let name = format!("shmimage_short_{}", std::process::id());
    let _peer = python_object(&name, 100);
    let out = scratch.path("out.png");
    let error = scratch.fails(&[
        "get",
        out.to_str().unwrap(),
        "--native-key",
        &name,
        "--raw",
        "10x10:rgb8",
    ]);
    assert!(
        error.contains("holds 100 bytes") && error.contains("needs 300 bytes"),
        "{error}"
    );
    // Without --raw, headerless bytes get the sentence that says what to give.
    let error = scratch.fails(&["get", out.to_str().unwrap(), "--native-key", &name]);
    assert!(
        error.contains("WIDTHxHEIGHT:FORMAT") && error.contains("--raw"),
        "{error}"
    );
}

#[test]
fn native_keys_outside_the_namespace_are_refused() {
    let scratch = Scratch::new("native-names");
    let out = scratch.path("out.png");
    for bad in ["../etc/passwd", "a/b", "..", "/", "//x"] {
        let error = scratch.fails(&[
            "get",
            out.to_str().unwrap(),
            "--native-key",
            bad,
            "--raw",
            "1x1:gray8",
        ]);
        assert!(error.contains("native key"), "{bad}: {error}");
    }
    let error = scratch.fails(&[
        "get",
        out.to_str().unwrap(),
        "--native-key",
        "shmimage_never_made",
    ]);
    assert!(
        error.contains("nothing is shared under the native key"),
        "{error}"
    );
}

/// `put --native-key NAME --raw-format F` writes headerless pixels that Python's standard
/// library reads back byte for byte, prints the shape to read them with, and removes the object
/// when it stops.
#[test]
fn shmimage_writes_and_python_reads_the_exact_bytes() {
    use crate::util::test_image;
    const READER: &str = r#"
import sys
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(name=sys.argv[1])
# Only reading: the object is the writer's to remove.
resource_tracker.unregister(shm._name, "shared_memory")
sys.stdout.write(bytes(shm.buf[:int(sys.argv[2])]).hex())
shm.close()
"#;
    let scratch = Scratch::new("native-put");
    let image = test_image(9, 5, 4);
    let path = scratch.save("in.png", &image);
    for (format, bytes) in [
        ("rgba8", image.as_raw().clone()),
        (
            "bgr8",
            image
                .pixels()
                .flat_map(|p| [p[2], p[1], p[0]])
                .collect::<Vec<u8>>(),
        ),
    ] {
        let name = format!("shmimage_put_{}_{format}", std::process::id());
        let publisher = scratch.put(&path, &["--native-key", &name, "--raw-format", format]);
        assert!(
            publisher
                .first_line
                .contains(&format!("--raw 9x5:{format}")),
            "{}",
            publisher.first_line
        );
        let read = Command::new("python3")
            .args(["-c", READER, &name, &bytes.len().to_string()])
            .output()
            .unwrap();
        assert!(read.status.success(), "{read:?}");
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(String::from_utf8_lossy(&read.stdout), hex, "{format}");
        assert!(publisher.terminate().success());
        assert!(
            !std::path::Path::new(&format!("/dev/shm/{name}")).exists(),
            "removed"
        );
    }
    // An object of that name that is not shmimage's is never replaced.
    let name = format!("shmimage_taken_{}", std::process::id());
    let _other = python_object(&name, 16);
    let error = scratch.fails(&["put", path.to_str().unwrap(), "--native-key", &name]);
    assert!(
        error.contains("already exists") && error.contains("does not replace it"),
        "{error}"
    );
    assert!(std::path::Path::new(&format!("/dev/shm/{name}")).exists());
}

/// The window's "Native key" and "Raw shape" fields: Follow shows what a Python program puts in
/// its object, and shows it again when the program rewrites the bytes in place (no lock, no
/// file event: a sampled checksum notices).
#[cfg(feature = "gui")]
#[test]
fn the_window_follows_a_native_key_that_python_rewrites_in_place() {
    use shmimage::gui::save::Original;
    const PEER: &str = r#"
import sys
from multiprocessing import shared_memory
shm = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=8 * 4 * 3)
shm.buf[:] = bytes([10]) * len(shm.buf)
print("ready", flush=True)
for line in sys.stdin:
    shm.buf[:] = bytes([int(line)]) * len(shm.buf)
    print("filled", line.strip(), flush=True)
shm.close()
shm.unlink()
"#;
    let scratch = Scratch::new("native-window");
    let name = format!("shmimage_window_{}", std::process::id());
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PEER, &name]).stdin(Stdio::piped());
    let mut peer = Publisher::start(cmd, "ready");
    let mut harness = crate::gui::harness(&scratch);
    {
        let app = harness.state_mut();
        app.native_key = name.clone();
        app.raw_shape = "8x4:rgb8".to_owned();
        app.follow = true;
    }
    let shown_value = |app: &shmimage::gui::ShmImageApp| {
        app.shown.as_ref().map(|shown| match &shown.original {
            Original::Texture(texture) => texture.pixels[0].r(),
            Original::Straight(image) => image.get_pixel(0, 0)[0],
        })
    };
    crate::gui_protocol::step_until(&mut harness, "the object was never shown", |app| {
        shown_value(app) == Some(10)
    });
    assert_eq!(harness.state().shown.as_ref().unwrap().full_size, [8, 4]);
    use std::io::Write;
    writeln!(peer.child.stdin.as_mut().unwrap(), "200").unwrap();
    peer.wait_for("filled 200");
    crate::gui_protocol::step_until(&mut harness, "the rewrite was never shown", |app| {
        shown_value(app) == Some(200)
    });
}
