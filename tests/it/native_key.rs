//! Qt's setNativeKey: shmimage reads and writes a shared-memory object, by its exact name, that
//! another program made or reads. The other program is Python's standard library
//! (`multiprocessing.shared_memory`, no numpy) on Linux; on Windows, where Wine has no Python,
//! it is `scripts/windows/shm_peer.c`, which makes the Win32 calls Python makes there.

use std::process::{Command, Stdio};

use crate::util::{Publisher, Scratch, load};

/// The peer, as a command: `create NAME SIZE` makes the object (byte i is `(i * 7 + 3) % 256`),
/// says "ready", fills it with V for each stdin line V ("filled V") and removes it when stdin
/// closes (prints "exists" and fails if the name is taken); `read NAME COUNT` prints its first
/// COUNT bytes in hex.
#[cfg(target_os = "linux")]
fn peer(args: &[&str]) -> Command {
    const PEER: &str = r#"
import sys
from multiprocessing import shared_memory, resource_tracker
mode, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "read":
    shm = shared_memory.SharedMemory(name=name)
    # Only reading: the object is the writer's to remove.
    resource_tracker.unregister(shm._name, "shared_memory")
    sys.stdout.write(bytes(shm.buf[:size]).hex())
    shm.close()
    sys.exit()
try:
    shm = shared_memory.SharedMemory(name=name, create=True, size=size)
except FileExistsError:
    print("exists", flush=True)
    sys.exit(17)
shm.buf[:size] = bytes((i * 7 + 3) % 256 for i in range(size))
print("ready", flush=True)
for line in sys.stdin:
    shm.buf[:size] = bytes([int(line)]) * size
    print("filled", line.strip(), flush=True)
shm.close()
shm.unlink()
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(PEER).args(args);
    cmd
}

#[cfg(windows)]
fn peer(args: &[&str]) -> Command {
    // scripts/test-windows.sh builds it next to shmimage.exe.
    let exe = std::path::Path::new(crate::util::BIN).with_file_name("shm_peer.exe");
    assert!(
        exe.exists(),
        "{} is missing: run scripts/test-windows.sh, which builds it from scripts/windows/shm_peer.c",
        exe.display()
    );
    let mut cmd = Command::new(exe);
    cmd.args(args);
    cmd
}

/// A peer holding the object `name` of `size` bytes until dropped.
fn peer_object(name: &str, size: usize) -> Publisher {
    let mut cmd = peer(&["create", name, &size.to_string()]);
    cmd.stdin(Stdio::piped());
    Publisher::start(cmd, "ready")
}

/// The first `count` bytes of the object `name`, in hex, as the peer reads them; `None` if it
/// cannot open it.
fn peer_reads(name: &str, count: usize) -> Option<String> {
    let read = peer(&["read", name, &count.to_string()]).output().unwrap();
    read.status
        .success()
        .then(|| String::from_utf8_lossy(&read.stdout).into_owned())
}

/// How `--native-key` names the peer's object `name`: on Linux with a leading `/`, which
/// `shm_open` drops (so that is tested too); on Windows exactly.
fn given(name: &str) -> String {
    if cfg!(windows) {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

/// What `info` says of where the object `name` is, and of its owner.
fn location_and_owner(name: &str) -> [String; 2] {
    if cfg!(windows) {
        [
            format!("the named file mapping \"{name}\""),
            "not recorded".to_owned(),
        ]
    } else {
        [format!("/dev/shm/{name}"), "uid".to_owned()]
    }
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
fn the_peer_writes_each_format_and_shmimage_reads_it_pixel_exact() {
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
        let peer = peer_object(&name, stride * (height - 1) + width * bpp);
        let out = scratch.path(&format!("{format}.png"));
        let shape = format!("{width}x{height}:{format}:{stride}");
        let said = scratch.ok(&[
            "get",
            out.to_str().unwrap(),
            "--native-key",
            &given(&name),
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
        let [location, owner] = location_and_owner(&name);
        assert!(info.contains(&location) && info.contains(&owner), "{info}");
        // Like Qt's key() after setNativeKey: no key, and not the key the command line gave.
        assert!(
            info.contains("none: the native key is used instead"),
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
    let _peer = peer_object(&name, 100);
    let out = scratch.path("out.png");
    let error = scratch.fails(&[
        "get",
        out.to_str().unwrap(),
        "--native-key",
        &name,
        "--raw",
        "64x64:rgb8",
    ]);
    // Windows sizes a mapping in whole pages.
    let holds = if cfg!(windows) { 4096 } else { 100 };
    assert!(
        error.contains(&format!("holds {holds} bytes")) && error.contains("needs 12288 bytes"),
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
    // Windows' object names may hold '/', and a '\' only after a namespace.
    let refused: &[&str] = if cfg!(windows) {
        &["a\\b", "Local\\a\\b", "Local\\", "..\\x"]
    } else {
        &["../etc/passwd", "a/b", "..", "/", "//x"]
    };
    for &bad in refused {
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

/// `put --native-key NAME --raw-format F` writes headerless pixels that the peer reads back
/// byte for byte, prints the shape to read them with, and removes the object when it stops.
#[test]
fn shmimage_writes_and_the_peer_reads_the_exact_bytes() {
    use crate::util::test_image;
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
        // Stopped by closing its stdin, the one way to stop it gracefully on every OS.
        let mut put = scratch.cmd(&[
            "put",
            path.to_str().unwrap(),
            "--native-key",
            &name,
            "--raw-format",
            format,
            "--until-stdin-closes",
        ]);
        put.stdin(Stdio::piped());
        let mut publisher = Publisher::start(put, "ready");
        assert!(
            publisher
                .first_line
                .contains(&format!("--raw 9x5:{format}")),
            "{}",
            publisher.first_line
        );
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(peer_reads(&name, bytes.len()), Some(hex), "{format}");
        drop(publisher.child.stdin.take());
        assert!(publisher.wait().success());
        assert_eq!(peer_reads(&name, 0), None, "{format} was not removed");
    }
    // An object of that name that is not shmimage's is never replaced.
    let name = format!("shmimage_taken_{}", std::process::id());
    let _other = peer_object(&name, 16);
    let error = scratch.fails(&["put", path.to_str().unwrap(), "--native-key", &name]);
    assert!(
        error.contains("already exists") && error.contains("does not replace it"),
        "{error}"
    );
    let untouched: String = (0..16).map(|i| format!("{:02x}", pattern(i))).collect();
    assert_eq!(peer_reads(&name, 16), Some(untouched), "the other's bytes");
}

/// Follow on a native key, on every OS: the peer rewrites its object in place (no lock, no file
/// event, no new object), and the follower sees each new content once, and nothing while the
/// bytes stay the same.
#[test]
fn follow_sees_the_peer_rewrite_its_object_in_place() {
    use shmimage::protocol::{Endpoint, SegmentDir};
    use std::io::Write;
    let scratch = Scratch::new("native-follow");
    let name = format!("shmimage_follow_{}", std::process::id());
    let mut peer = peer_object(&name, 6 * 5 * 3);
    let mut endpoint = Endpoint::in_dir(&scratch.key, SegmentDir::at(scratch.seg_dir()).unwrap());
    endpoint.native_key = Some(name.clone());
    endpoint.raw = "6x5:rgb8".parse().ok();
    let (follower, seen) = crate::follow::first_pixels_followed(&endpoint);
    let next = || {
        seen.recv_timeout(crate::util::DEADLINE)
            .expect("a change within the deadline")
    };
    assert_eq!(next(), [pattern(0), pattern(1), pattern(2), 255]);
    for value in [200u8, 17, 99] {
        writeln!(peer.child.stdin.as_mut().unwrap(), "{value}").unwrap();
        peer.wait_for(&format!("filled {value}"));
        assert_eq!(next(), [value, value, value, 255]);
    }
    // Still bytes: probes go on (every 8 ms), news does not.
    let probes = follower.probes();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(follower.probes() > probes, "the follower stopped probing");
    assert!(seen.try_recv().is_err(), "news while nothing changed");
}

/// The window's "Native key" and "Raw shape" fields: Follow shows what the peer puts in its
/// object, and shows it again when the peer rewrites the bytes in place (no lock, no file
/// event: a sampled checksum notices).
#[cfg(feature = "gui")]
#[test]
fn the_window_follows_a_native_key_that_the_peer_rewrites_in_place() {
    use shmimage::gui::save::Original;
    use std::io::Write;
    let scratch = Scratch::new("native-window");
    let name = format!("shmimage_window_{}", std::process::id());
    let mut peer = peer_object(&name, 8 * 4 * 3);
    writeln!(peer.child.stdin.as_mut().unwrap(), "10").unwrap();
    peer.wait_for("filled 10");
    let mut harness = crate::gui::harness(&scratch);
    {
        let app = harness.state_mut();
        app.native_key = name.clone();
        app.raw_shape = "8x4:rgb8".to_owned();
        app.sharing.follow = true;
    }
    let shown_value = |app: &shmimage::gui::ShmImageApp| {
        app.viewer
            .shown
            .as_ref()
            .map(|shown| match &shown.original {
                Original::Texture(texture) => texture.pixels[0].r(),
                Original::Straight(image) => image.get_pixel(0, 0)[0],
            })
    };
    crate::gui_protocol::step_until(&mut harness, "the object was never shown", |app| {
        shown_value(app) == Some(10)
    });
    assert_eq!(
        harness.state().viewer.shown.as_ref().unwrap().full_size,
        [8, 4]
    );
    // The status line names what was read: the native key, not the key it overrides.
    let status = harness.state().status.text();
    assert!(
        status.contains(&format!("native key \"{name}\"")),
        "{status}"
    );
    assert!(!status.contains("under key"), "{status}");
    let caption = &harness.state().viewer.shown.as_ref().unwrap().caption;
    assert!(
        caption.contains(&format!("native key \"{name}\"")),
        "{caption}"
    );
    // The inspector's lifetime is the OS's for such an object, not the mode's.
    harness.state_mut().panels.inspector.open = true;
    harness.run();
    {
        use egui_kittest::kittest::Queryable;
        harness.get_by_label(shmimage::gui::NATIVE_KEY_LIFETIME);
    }
    writeln!(peer.child.stdin.as_mut().unwrap(), "200").unwrap();
    peer.wait_for("filled 200");
    crate::gui_protocol::step_until(&mut harness, "the rewrite was never shown", |app| {
        shown_value(app) == Some(200)
    });
}

/// The NumPy example (`examples/numpy_frames.py`) streams BGR frames into a native key in place,
/// as a camera pipeline would; `get --native-key` reads whole frames (every row has the same
/// frame number in green, and blue is the moving ramp that number gives), and a later read gets
/// a later frame. NumPy comes from the venv `scripts/check.sh` makes.
#[cfg(target_os = "linux")]
#[test]
fn the_numpy_example_streams_whole_frames_into_a_native_key() {
    let python = crate::util::venv_python();
    assert!(
        Command::new(&python)
            .args(["-c", "import numpy"])
            .status()
            .is_ok_and(|s| s.success()),
        "this test needs NumPy in {python}: run scripts/check.sh once (it installs it), or set SHMIMAGE_PYSIDE6_PYTHON"
    );
    let scratch = Scratch::new("numpy-frames");
    let name = format!("shmimage_numpy_{}", std::process::id());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/numpy_frames.py");
    let mut stream = Command::new(&python);
    stream.args([example, &name, "320x240", "30", "3"]);
    let _writer = Publisher::start(stream, "ready");
    let frame_of = |out: &str| {
        let path = scratch.path(out);
        scratch.ok(&[
            "get",
            path.to_str().unwrap(),
            "--native-key",
            &name,
            "--raw",
            "320x240:bgr8",
        ]);
        let image = load(&path);
        let number = image.get_pixel(0, 0)[1];
        for (x, y, pixel) in image.enumerate_pixels() {
            let [red, green, blue, _] = pixel.0;
            assert_eq!(green, number, "a torn frame at ({x}, {y})");
            assert_eq!(red, (y % 256) as u8, "row {y}");
            assert_eq!(
                blue,
                ((x + u32::from(number) * 8) % 256) as u8,
                "({x}, {y})"
            );
        }
        number
    };
    let first = frame_of("first.png");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let later = frame_of("later.png");
    assert_ne!(first, later, "the stream moved on between the two reads");
}
