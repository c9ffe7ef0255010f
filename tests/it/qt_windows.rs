//! Qt's example on Windows, played by `scripts/windows/qt_peer.c`, which makes the Win32 calls
//! Qt's `QSharedMemory` and `QSystemSemaphore` make there (no Qt for Windows can be installed
//! here; the tests run under Wine). Both of Qt's key kinds: "legacy" (`--mode qt5`: Qt 5, and
//! Qt 6 with a `QString` key) and "native" (`--mode qt6`: Qt 6.6+'s `QNativeIpcKey`).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Publisher, Scratch, load, run_with_deadline, test_image};

/// The peer's name for each of shmimage's Qt modes.
const KINDS: [(&str, &str); 2] = [("qt5", "legacy"), ("qt6", "native")];

/// Windows lets go of a killed process's handles some time after `TerminateProcess` returns.
const RELEASE_WITHIN: Duration = Duration::from_secs(10);

fn peer(args: &[&str]) -> Command {
    // scripts/test-windows.sh builds it next to shmimage.exe.
    let exe = Path::new(crate::util::BIN).with_file_name("qt_peer.exe");
    assert!(
        exe.exists(),
        "{} is missing: run scripts/test-windows.sh, which builds it from scripts/windows/qt_peer.c",
        exe.display()
    );
    let mut cmd = Command::new(exe);
    cmd.args(args);
    cmd
}

/// The key as the peer takes it: a legacy key with its SHA-1, which Qt's names end in.
fn peer_key(kind: &str, key: &str) -> String {
    if kind == "legacy" {
        format!("{key}:{}", sha1_smol::Sha1::from(key).digest())
    } else {
        key.to_owned()
    }
}

/// Qt's `loadFromFile` of `png`, kept until dropped; `hold` stops it inside the lock.
fn peer_writes(kind: &str, key: &str, png: &Path, hold: bool) -> Publisher {
    let key = peer_key(kind, key);
    let mut args = vec!["write", kind, &key, png.to_str().unwrap()];
    if hold {
        args.push("hold");
    }
    let mut cmd = peer(&args);
    cmd.stdin(Stdio::piped());
    Publisher::start(cmd, if hold { "holding" } else { "ready" })
}

/// Qt's `loadFromMemory`, run to its end: the segment's bytes are in `out`.
fn peer_reads(kind: &str, key: &str, out: &Path) -> Output {
    run_with_deadline(peer(&[
        "read",
        kind,
        &peer_key(kind, key),
        out.to_str().unwrap(),
    ]))
}

/// What Qt's reader would show: `QDataStream >> QImage` of the whole segment, trailing page
/// padding included.
fn qt_decodes(bytes: &[u8]) -> image::RgbaImage {
    assert_eq!(
        &bytes[..4],
        &[0, 0, 0, 1],
        "Qt's marker for an image that is not null"
    );
    image::load_from_memory_with_format(&bytes[4..], image::ImageFormat::Png)
        .expect("a PNG after the marker")
        .to_rgba8()
}

/// A Qt program that may hang forever: killed however the test ends, so it never outlives it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn until<T>(what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(done) = attempt() {
            return done;
        }
        assert!(
            started.elapsed() < RELEASE_WITHIN,
            "{what} within {RELEASE_WITHIN:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn shmimage_and_qts_example_exchange_images_both_ways_pixel_exact() {
    for (mode, kind) in KINDS {
        let scratch = Scratch::new(&format!("qtwin-exchange-{mode}"));
        let image = test_image(97, 61, 5);
        let png = scratch.save("source.png", &image);

        let qt = peer_writes(kind, &scratch.key, &png, false);
        let got = scratch.path("got.png");
        scratch.ok(&["get", got.to_str().unwrap(), "--mode", mode]);
        assert_eq!(load(&got), image, "{mode}: shmimage read Qt's image");
        drop(qt);

        let other = test_image(64, 48, 9);
        let other_png = scratch.save("other.png", &other);
        let _ours = scratch.put(&other_png, &["--mode", mode]);
        let dump = scratch.path("segment.bin");
        let read = peer_reads(kind, &scratch.key, &dump);
        assert!(read.status.success(), "{mode}: {read:?}");
        let bytes = std::fs::read(&dump).unwrap();
        assert_eq!(bytes.len() % 4096, 0, "{mode}: Qt's size() is whole pages");
        assert_eq!(
            qt_decodes(&bytes),
            other,
            "{mode}: Qt read shmimage's image"
        );
    }
}

/// The article's row, on Windows: the kernel frees a killed writer's mapping, so Qt's next
/// create works (on Linux it fails).
#[test]
fn a_qt_writer_killed_while_idle_leaves_nothing_and_qt_creates_again() {
    for (mode, kind) in KINDS {
        let scratch = Scratch::new(&format!("qtwin-killed-{mode}"));
        let png = scratch.save("source.png", &test_image(40, 30, 2));
        peer_writes(kind, &scratch.key, &png, false).kill_hard();
        let got = scratch.path("got.png");
        let said = until("the killed writer's mapping freed", || {
            let output = scratch.run(&["get", got.to_str().unwrap(), "--mode", mode]);
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            stderr.contains("nothing is shared").then_some(stderr)
        });
        assert!(said.starts_with("error: nothing is shared"), "{said}");
        let again = peer_writes(kind, &scratch.key, &png, false);
        assert_eq!(again.first_line, "ready", "{mode}: Qt's next create works");
    }
}

/// A Windows semaphore has no undo: a Qt writer killed inside the lock leaves it taken while
/// another program has it open. Qt's reader then hangs; shmimage gives up, says what to do, and
/// works once that program is closed.
#[test]
fn a_qt_writer_killed_holding_the_lock_hangs_qt_but_not_shmimage() {
    for (mode, kind) in KINDS {
        let scratch = Scratch::new(&format!("qtwin-holder-{mode}"));
        let png = scratch.save("source.png", &test_image(40, 30, 3));
        let ours_png = scratch.save("ours.png", &test_image(33, 22, 4));
        // Qt 6.6's writer goes into the mapping that is there: keep one, so its hold is inside
        // the copy; Qt 5's creates its own.
        let _kept = (kind == "native").then(|| scratch.put(&ours_png, &["--mode", mode]));
        let holder = peer_writes(kind, &scratch.key, &png, true);
        let dump = scratch.path("segment.bin");
        let mut qt_reader = peer(&["read", kind, &peer_key(kind, &scratch.key)]);
        qt_reader.arg(dump.to_str().unwrap());
        let mut qt_reader = KillOnDrop(qt_reader.stdout(Stdio::null()).spawn().unwrap());
        std::thread::sleep(Duration::from_millis(500));
        holder.kill_hard();
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            qt_reader.0.try_wait().unwrap().is_none(),
            "{mode}: Qt's reader should wait forever for the semaphore the killed writer took"
        );

        let mut give_up = scratch.cmd(&["put", ours_png.to_str().unwrap(), "--mode", mode]);
        give_up.env("SHMIMAGE_LOCK_TIMEOUT_MS", "1000");
        let refused = run_with_deadline(give_up);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{mode}: {said}");
        assert!(
            said.contains("no undo") && said.contains("close every program"),
            "{mode}: {said}"
        );

        drop(qt_reader);
        until("the semaphore gone with its last handle", || {
            let args = [
                "put",
                ours_png.to_str().unwrap(),
                "--mode",
                mode,
                "--hold-ms",
                "0",
            ];
            let mut cmd = scratch.cmd(&args);
            cmd.env("SHMIMAGE_LOCK_TIMEOUT_MS", "1000");
            run_with_deadline(cmd).status.success().then_some(())
        });
        let ours = scratch.put(&ours_png, &["--mode", mode]);
        let read = peer_reads(kind, &scratch.key, &dump);
        assert!(read.status.success(), "{mode}: {read:?}");
        assert_eq!(
            qt_decodes(&std::fs::read(&dump).unwrap()),
            load(&ours_png),
            "{mode}: after the recovery Qt reads shmimage's image"
        );
        drop(ours);
    }
}

/// shmimage's writer killed: Windows frees its mapping, so Qt's reader finds nothing and Qt's
/// next create works.
#[test]
fn a_shmimage_writer_killed_leaves_nothing_for_qt() {
    for (mode, kind) in KINDS {
        let scratch = Scratch::new(&format!("qtwin-ours-{mode}"));
        let png = scratch.save("source.png", &test_image(40, 30, 6));
        scratch.put(&png, &["--mode", mode]).kill_hard();
        let dump = scratch.path("segment.bin");
        let said = until("the killed writer's mapping freed", || {
            let read = peer_reads(kind, &scratch.key, &dump);
            (read.status.code() == Some(5))
                .then(|| String::from_utf8_lossy(&read.stdout).into_owned())
        });
        assert!(
            said.starts_with("Unable to attach to shared memory segment."),
            "{said}"
        );
        let qt = peer_writes(kind, &scratch.key, &png, false);
        assert_eq!(qt.first_line, "ready", "{mode}: Qt's next create works");
    }
}
