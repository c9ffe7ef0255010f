//! Qt-compatible mode against the real QSharedMemory: `tests/qt/qt_peer.py` drives Qt 5's own
//! classes through PyQt5 (Debian's python3-pyqt5, installed by `.ci/run`) exactly as Qt's
//! example does. Each test gets its own TMPDIR, which is where Qt keeps its key files, so the
//! System V keys of parallel tests never meet.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::util::{Publisher, Scratch, load, run_with_deadline, test_image};

/// Debian's interpreter, which has python3-pyqt5 (a pyenv or venv python on PATH would not).
const PYTHON: &str = "/usr/bin/python3";

/// `tests/qt/qt_peer.py [FLAVOUR] ARGS` under `python`, headless, with its runtime files in
/// `runtime_dir` and stdin piped, so that a publisher stays until it is told to stop.
fn qt_peer(
    python: &str,
    flavour: Option<&str>,
    runtime_dir: &std::path::Path,
    args: &[&str],
) -> Command {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/qt/qt_peer.py");
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .args(flavour)
        .args(args)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env("QT_QPA_PLATFORM", "offscreen")
        .stdin(Stdio::piped());
    cmd
}

struct QtScratch {
    scratch: Scratch,
}

impl QtScratch {
    fn new(name: &str) -> Self {
        let scratch = Scratch::new(name);
        std::fs::create_dir(scratch.path("tmp")).unwrap();
        assert!(
            Command::new(PYTHON)
                .args(["-c", "import PyQt5.QtCore"])
                .status()
                .is_ok_and(|s| s.success()),
            "these tests need Qt 5's QSharedMemory from Python: run scripts/check.sh once (it installs python3-pyqt5)"
        );
        Self { scratch }
    }

    fn tmp(&self) -> PathBuf {
        self.scratch.path("tmp")
    }

    /// `shmimage --qt ARGS` sharing Qt's TMPDIR.
    fn shmimage(&self, args: &[&str]) -> Command {
        let mut cmd = self.scratch.cmd(args);
        cmd.arg("--qt").env("TMPDIR", self.tmp());
        cmd
    }

    /// The PyQt5 peer, with this test's TMPDIR.
    fn qt_peer(&self, args: &[&str]) -> Command {
        self.qt_peer_in(&self.tmp(), args)
    }

    fn qt_peer_in(&self, tmp: &std::path::Path, args: &[&str]) -> Command {
        let mut cmd = qt_peer(PYTHON, None, &self.tmp(), args);
        cmd.env("TMPDIR", tmp);
        cmd
    }

    fn qt_publish(&self, image: &std::path::Path) -> Publisher {
        let key = self.scratch.key.clone();
        Publisher::start(
            self.qt_peer(&["publish", &key, image.to_str().unwrap()]),
            "ready",
        )
    }

    fn qt_read(&self, out: &std::path::Path) -> std::process::Output {
        let key = self.scratch.key.clone();
        run_with_deadline(self.qt_peer(&["read", &key, out.to_str().unwrap()]))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = run_with_deadline(self.shmimage(args));
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Qt's key files in this test's TMPDIR, whatever is left of them.
    fn qt_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.tmp())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("qipc_"))
            .collect();
        names.sort();
        names
    }
}

impl Drop for QtScratch {
    /// System V objects outlive the test's TMPDIR: remove whatever a failed test left behind
    /// (ftok's key as glibc computes it: 'Q', low byte of the device, low 16 bits of the inode).
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt;
        for name in self.qt_files() {
            let Ok(meta) = std::fs::metadata(self.tmp().join(&name)) else {
                continue;
            };
            let key = (u32::from(b'Q') << 24)
                | ((meta.dev() as u32 & 0xff) << 16)
                | (meta.ino() as u32 & 0xffff);
            let kind = if name.starts_with("qipc_sharedmemory_") {
                "-M"
            } else {
                "-S"
            };
            let _ = Command::new("ipcrm")
                .args([kind, &format!("0x{key:08x}")])
                .output();
        }
    }
}

#[test]
fn qt_reads_what_shmimage_publishes_pixel_exact() {
    let qt = QtScratch::new("qt-reads");
    let original = test_image(64, 40, 5);
    let input = qt.scratch.save("in.png", &original);
    let publisher = Publisher::start(qt.shmimage(&["put", input.to_str().unwrap()]), "ready");
    assert!(
        publisher.first_line.contains("encoding=png"),
        "{}",
        publisher.first_line
    );

    let out = qt.scratch.path("read-by-qt.png");
    let read = qt.qt_read(&out);
    assert!(read.status.success(), "{read:?}");
    assert_eq!(load(&out), original);
    // Qt's reader detached, but the publisher is still attached: the image stays.
    let again = qt.scratch.path("again.png");
    assert!(qt.qt_read(&again).status.success());
    assert_eq!(load(&again), original);
    assert!(publisher.terminate().success());
    assert_eq!(qt.qt_files(), Vec::<String>::new(), "left behind");
}

#[test]
fn shmimage_reads_what_qt_publishes_pixel_exact() {
    let qt = QtScratch::new("qt-writes");
    let original = test_image(50, 30, 77);
    let input = qt.scratch.save("in.png", &original);
    let qt_writer = qt.qt_publish(&input);

    let info = qt.ok(&["info"]);
    assert!(info.contains("state:      live"), "{info}");
    let out = qt.scratch.path("read-by-shmimage.png");
    let said = qt.ok(&["get", out.to_str().unwrap()]);
    assert!(said.contains("saved 50x30"), "{said}");
    assert_eq!(load(&out), original);
    // The Qt writer stops as the example does (detach in its destructor): nothing is left.
    assert!(qt_writer.terminate().success());
    assert_eq!(qt.qt_files(), Vec::<String>::new(), "left behind");
}

#[test]
fn a_crashed_qt_writer_is_reclaimed_instead_of_blocking_the_key() {
    let qt = QtScratch::new("qt-crash");
    let first = qt.scratch.save("first.png", &test_image(20, 10, 1));
    qt.qt_publish(&first).kill_hard();
    // What Qt leaves behind after kill -9: the segment (nobody attached) and both key files.
    let info = qt.ok(&["info"]);
    assert!(info.contains("leftover of a dead process"), "{info}");
    // A reader removes the leftover and says so, instead of showing a dead writer's image.
    let out = run_with_deadline(qt.shmimage(&["get", qt.scratch.path("x.png").to_str().unwrap()]));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("exited without detaching, was removed"),
        "{out:?}"
    );
    // A writer does the same when it is the first to come; then Qt can read again.
    qt.qt_publish(&first).kill_hard();

    let second_image = test_image(31, 17, 2);
    let second = qt.scratch.save("second.png", &second_image);
    let publisher = Publisher::start(qt.shmimage(&["put", second.to_str().unwrap()]), "ready");
    assert!(
        publisher
            .first_line
            .contains("removed the segment left behind by pid"),
        "{}",
        publisher.first_line
    );
    let out = qt.scratch.path("out.png");
    let read = qt.qt_read(&out);
    assert!(read.status.success(), "{read:?}");
    assert_eq!(load(&out), second_image);
    // The new writer took over the dead one's semaphore too, and removes everything on exit.
    assert!(publisher.terminate().success());
    assert_eq!(qt.qt_files(), Vec::<String>::new(), "left behind");
}

#[test]
fn after_shmimage_stops_sharing_qt_finds_nothing_left_behind() {
    let qt = QtScratch::new("qt-clean");
    let input = qt.scratch.save("in.png", &test_image(9, 9, 3));
    let publisher = Publisher::start(
        qt.shmimage(&["put", input.to_str().unwrap(), "--hold-ms", "200"]),
        "ready",
    );
    assert!(publisher.wait().success());
    assert_eq!(qt.qt_files(), Vec::<String>::new());
    let read = qt.qt_read(&qt.scratch.path("none.png"));
    assert!(!read.status.success());
    let said = String::from_utf8_lossy(&read.stdout);
    assert!(
        said.contains("Unable to attach to shared memory segment."),
        "{said}"
    );
}

/// A Qt program stuck while holding the semaphore: we wait only the lock timeout and name it;
/// once it is killed, SEM_UNDO frees the semaphore and its segment is a reclaimed leftover.
#[test]
fn a_hung_qt_lock_holder_is_named_and_its_death_frees_the_key() {
    let qt = QtScratch::new("qt-hung");
    let input = qt.scratch.save("in.png", &test_image(10, 10, 8));
    let key = qt.scratch.key.clone();
    let holder = Publisher::start(
        qt.qt_peer(&["hold", &key, input.to_str().unwrap()]),
        "holding the lock",
    );
    let out = qt.scratch.path("out.png");
    let mut get = qt.shmimage(&["get", out.to_str().unwrap()]);
    get.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "300");
    let said = run_with_deadline(get);
    let err = String::from_utf8_lossy(&said.stderr);
    let pid = holder.child.id();
    assert!(
        err.contains(&format!("locked by another process (pid {pid})")),
        "{err}"
    );
    holder.kill_hard();
    let mut get = qt.shmimage(&["get", out.to_str().unwrap()]);
    get.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "1000");
    let said = run_with_deadline(get);
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(
        err.contains("exited without detaching, was removed"),
        "{err}"
    );
}

#[test]
fn a_second_qt_mode_publisher_replaces_a_live_qt_image() {
    let qt = QtScratch::new("qt-replace");
    let qt_writer = qt.qt_publish(&qt.scratch.save("qt.png", &test_image(8, 8, 4)));
    let newer = test_image(12, 6, 9);
    let input = qt.scratch.save("newer.png", &newer);
    let publisher = Publisher::start(qt.shmimage(&["put", input.to_str().unwrap()]), "ready");
    assert!(
        publisher
            .first_line
            .contains("replaced the image shared by pid"),
        "{}",
        publisher.first_line
    );
    let out = qt.scratch.path("out.png");
    let read = qt.qt_read(&out);
    assert!(read.status.success(), "{read:?}");
    assert_eq!(load(&out), newer);
    assert!(publisher.terminate().success());
    assert!(qt_writer.terminate().success());
    assert_eq!(qt.qt_files(), Vec::<String>::new(), "left behind");
}

/// The window in Qt 5's mode (chosen in the mode box by its label, as a user would) shows what Qt
/// published. The app under test uses this test process's TMPDIR, so the Qt peer does too.
#[cfg(feature = "gui")]
#[test]
fn the_window_in_qt_mode_shows_what_qt_published() {
    use egui_kittest::kittest::Queryable;
    use shmimage::gui::app::{LOAD_MEMORY_LABEL, MODE_LABEL};
    use shmimage::protocol::Mode;

    let qt = QtScratch::new("qt-window");
    let input = qt.scratch.save("in.png", &test_image(40, 24, 6));
    let key = qt.scratch.key.clone();
    let qt_temp = shmimage::ipc::qt::sysv::qt_temp_dir();
    let qt_writer = Publisher::start(
        qt.qt_peer_in(&qt_temp, &["publish", &key, input.to_str().unwrap()]),
        "ready",
    );

    let mut harness = crate::gui::harness(&qt.scratch);
    harness.run_steps(1);
    harness.get_by_label(MODE_LABEL).click();
    harness.run_steps(2);
    harness.get_by_label(Mode::Qt5.facts().name).click();
    harness.run_steps(1);
    assert_eq!(harness.state().mode, Mode::Qt5);
    harness.get_by_label(LOAD_MEMORY_LABEL).click();
    crate::gui::settle(&mut harness);
    let state = harness.state();
    assert_eq!(
        state.viewer.shown.as_ref().expect("image shown").full_size,
        [40, 24]
    );
    let pid = qt_writer.child.id();
    assert!(
        state.status.text().contains(&format!("by pid {pid}")),
        "{}",
        state.status.text()
    );
    assert!(qt_writer.terminate().success());
}

/// Qt 6.6+ with `QNativeIpcKey`, from PyPI's PySide6, which `scripts/check.sh` installs into a
/// venv in the per-user cache directory (and names in this variable).
const PYSIDE6_PYTHON_ENV: &str = "SHMIMAGE_PYSIDE6_PYTHON";

/// A key for Qt 6 mode (its names are global in /dev/shm, so unique per test) whose files are
/// removed at the end whatever happens.
struct Qt6Key {
    scratch: Scratch,
}

impl Qt6Key {
    fn new(name: &str) -> Self {
        let python = Self::python();
        assert!(
            Command::new(&python)
                .args(["-c", "import PySide6.QtCore"])
                .status()
                .is_ok_and(|s| s.success()),
            "these tests need PySide6 in {python}: run scripts/check.sh once (it installs it), or set {PYSIDE6_PYTHON_ENV}"
        );
        Self {
            scratch: Scratch::new(name),
        }
    }

    /// The variable, else where `scripts/check.sh` puts the venv.
    fn python() -> String {
        crate::util::venv_python()
    }

    fn files(&self) -> Vec<PathBuf> {
        let key = &self.scratch.key;
        [
            PathBuf::from(format!("/dev/shm/{key}")),
            PathBuf::from(format!("/dev/shm/sem.{key}")),
        ]
        .into_iter()
        .filter(|p| p.exists())
        .collect()
    }

    fn shmimage(&self, args: &[&str]) -> Command {
        let mut cmd = self.scratch.cmd(args);
        cmd.arg("--qt6");
        cmd
    }

    fn qt6_peer(&self, args: &[&str]) -> Command {
        qt_peer(
            &Self::python(),
            Some("--qt6"),
            self.scratch.tmp.path(),
            args,
        )
    }
}

impl Qt6Key {
    fn qt6_peer_hold(&self, key: &str, image: &std::path::Path) -> Publisher {
        Publisher::start(
            self.qt6_peer(&["hold", key, image.to_str().unwrap()]),
            "holding the lock",
        )
    }
}

impl Drop for Qt6Key {
    fn drop(&mut self) {
        for file in self.files() {
            let _ = std::fs::remove_file(file);
        }
    }
}

#[test]
fn qt6_reads_what_shmimage_publishes_and_nothing_is_left_after() {
    let qt6 = Qt6Key::new("qt6-reads");
    let original = test_image(48, 20, 12);
    let input = qt6.scratch.save("in.png", &original);
    let publisher = Publisher::start(qt6.shmimage(&["put", input.to_str().unwrap()]), "ready");
    let out = qt6.scratch.path("read-by-qt6.png");
    let key = qt6.scratch.key.clone();
    let read = run_with_deadline(qt6.qt6_peer(&["read", &key, out.to_str().unwrap()]));
    assert!(read.status.success(), "{read:?}");
    assert_eq!(load(&out), original);
    // Unlike Qt 6 itself, the writer removes its segment and semaphore when it stops.
    assert!(publisher.terminate().success());
    assert_eq!(qt6.files(), Vec::<PathBuf>::new(), "left behind");
    let read = run_with_deadline(qt6.qt6_peer(&["read", &key, out.to_str().unwrap()]));
    assert!(!read.status.success(), "{read:?}");
}

#[test]
fn shmimage_reads_what_qt6_publishes_and_replaces_what_qt6_leaves() {
    let qt6 = Qt6Key::new("qt6-writes");
    let key = qt6.scratch.key.clone();
    let big = test_image(90, 60, 3);
    let input = qt6.scratch.save("big.png", &big);
    let writer = Publisher::start(
        qt6.qt6_peer(&["publish", &key, input.to_str().unwrap()]),
        "ready",
    );
    let out = qt6.scratch.path("read-by-shmimage.png");
    let said = run_with_deadline(qt6.shmimage(&["get", out.to_str().unwrap()]));
    assert!(said.status.success(), "{said:?}");
    assert_eq!(load(&out), big);
    // Qt 6 leaves its segment behind when it exits (it never unlinks)...
    assert!(writer.terminate().success());
    assert!(
        qt6.files().iter().any(|f| f.ends_with(&key)),
        "Qt 6 cleaned up after all?"
    );
    // ...and a later, larger image from Qt 6 would be cut to that size. Ours replaces it whole.
    let larger = test_image(200, 150, 4);
    let input = qt6.scratch.save("larger.png", &larger);
    let publisher = Publisher::start(qt6.shmimage(&["put", input.to_str().unwrap()]), "ready");
    let read = run_with_deadline(qt6.qt6_peer(&["read", &key, out.to_str().unwrap()]));
    assert!(read.status.success(), "{read:?}");
    assert_eq!(load(&out), larger);
    assert!(publisher.terminate().success());
    assert_eq!(qt6.files(), Vec::<PathBuf>::new(), "left behind");
}

/// Qt 6's semaphore has no undo: a Qt 6 program killed while holding it leaves it taken for
/// ever. We give up after the lock timeout and say which file to remove; removing it helps.
#[test]
fn a_qt6_semaphore_left_taken_by_a_killed_program_is_explained() {
    let qt6 = Qt6Key::new("qt6-stuck");
    let key = qt6.scratch.key.clone();
    let input = qt6.scratch.save("in.png", &test_image(10, 10, 8));
    qt6.qt6_peer_hold(&key, &input).kill_hard();
    let out = qt6.scratch.path("out.png");
    let mut get = qt6.shmimage(&["get", out.to_str().unwrap()]);
    get.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "300");
    let said = run_with_deadline(get);
    let err = String::from_utf8_lossy(&said.stderr);
    let semaphore = format!("/dev/shm/sem.{key}");
    assert!(
        !said.status.success() && err.contains(&format!("remove {semaphore}")),
        "{err}"
    );
    std::fs::remove_file(&semaphore).unwrap();
    let said = run_with_deadline(qt6.shmimage(&["get", out.to_str().unwrap()]));
    assert!(said.status.success(), "{said:?}");
    assert_eq!(load(&out), test_image(10, 10, 8));
}

/// Follow looks up `newest_generation` when woken, and fetches when it differs from what is
/// shown; in both Qt modes the two must agree, or the window would fetch again and again.
#[test]
fn in_qt_modes_the_polled_generation_matches_the_fetched_one() {
    use shmimage::protocol::{self, Endpoint, Mode};
    for (flag, mode) in [("--qt", Mode::Qt5), ("--qt6", Mode::Qt6)] {
        let qt6 = Qt6Key::new(&format!("follow{}", flag.len()));
        let input = qt6.scratch.save("in.png", &test_image(8, 8, 1));
        // The publisher inherits this process's TMPDIR, where Qt 5 mode keeps its key files.
        let mut put = qt6.scratch.cmd(&["put", input.to_str().unwrap()]);
        put.arg(flag);
        let publisher = Publisher::start(put, "ready");
        let endpoint = Endpoint::new(&qt6.scratch.key).unwrap().with_mode(mode);
        let fetched = protocol::fetch(&endpoint).unwrap();
        assert_eq!(
            protocol::newest_generation(&endpoint).unwrap(),
            Some(fetched.header.generation),
            "{flag}"
        );
        assert!(publisher.terminate().success());
    }
}

/// Makes a System V segment at the IPC key of `key_file` the way an unrelated program might
/// (ftok keeps only 16 bits of the inode, so two key files can collide): mode `mode`, holding
/// "not qt". With `hold`, stays attached until killed ("ready ID"); else exits ("made ID").
fn squat_ipc_key(key_file: &std::path::Path, mode: &str, hold: bool) -> (i32, Option<Publisher>) {
    const SQUATTER: &str = r#"
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
st = os.stat(sys.argv[1])
key = (ord("Q") << 24) | ((st.st_dev & 0xff) << 16) | (st.st_ino & 0xffff)
shmid = libc.shmget(key, 4096, 0o1000 | 0o2000 | int(sys.argv[2], 8))
if shmid < 0:
    sys.exit("shmget: " + os.strerror(ctypes.get_errno()))
address = libc.shmat(shmid, None, 0)
ctypes.memmove(address, b"not qt", 6)
if sys.argv[3] == "hold":
    print("ready", shmid, flush=True)
    time.sleep(3600)
libc.shmdt(ctypes.c_void_p(address))
print("made", shmid, flush=True)
"#;
    let mut cmd = Command::new(PYTHON);
    cmd.args(["-c", SQUATTER])
        .arg(key_file)
        .arg(mode)
        .arg(if hold { "hold" } else { "exit" });
    if hold {
        let squatter = Publisher::start(cmd, "ready");
        let id = squatter
            .first_line
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        (id, Some(squatter))
    } else {
        let made = run_with_deadline(cmd);
        assert!(made.status.success(), "{made:?}");
        let line = String::from_utf8_lossy(&made.stdout).into_owned();
        (
            line.trim().split(' ').nth(1).unwrap().parse().unwrap(),
            None,
        )
    }
}

fn sysv_segment_exists(id: i32) -> bool {
    Command::new("ipcs")
        .args(["-m", "-i", &id.to_string()])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Another program's segment at our IPC key (mode 0644 with a dead creator, or 0600 and in use
/// but not holding a Qt image) is reported as a collision naming its shmid, and left alone: it
/// used to be removed with IPC_RMID as a "leftover" or a "live image to replace".
#[test]
fn qt5_mode_leaves_another_programs_segment_at_its_ipc_key_alone() {
    let qt = QtScratch::new("qt-collision");
    let input = qt.scratch.save("in.png", &test_image(10, 10, 1));
    let key_file = shmimage::ipc::qt::sysv::qt_key_file(
        &qt.scratch.key,
        shmimage::ipc::qt::sysv::SHARED_MEMORY_PREFIX,
        &std::fs::canonicalize(qt.tmp()).unwrap(),
    )
    .unwrap();
    std::fs::write(&key_file, b"").unwrap();
    for (mode, hold) in [("644", false), ("600", true)] {
        let (id, squatter) = squat_ipc_key(&key_file, mode, hold);
        let said = run_with_deadline(qt.shmimage(&["put", input.to_str().unwrap()]));
        let err = String::from_utf8_lossy(&said.stderr);
        assert!(
            !said.status.success()
                && err.contains(&format!("another program's System V segment (id {id})")),
            "mode {mode}: {err}"
        );
        assert!(
            sysv_segment_exists(id),
            "mode {mode}: the segment was removed"
        );
        if !hold {
            let out = qt.scratch.path("out.png");
            let said = run_with_deadline(qt.shmimage(&["get", out.to_str().unwrap()]));
            let err = String::from_utf8_lossy(&said.stderr);
            assert!(err.contains(&format!("(id {id})")), "{err}");
            assert!(sysv_segment_exists(id), "get removed it");
        }
        drop(squatter);
        let _ = Command::new("ipcrm").args(["-m", &id.to_string()]).status();
    }
}

/// Qt 6 mode removes its own segment when it stops sharing, but only under the semaphore: while
/// someone else holds it, the segment may be about to be replaced, so it is left in place.
#[test]
fn a_qt6_writer_removes_its_segment_only_under_the_semaphore() {
    let qt6 = Qt6Key::new("qt6-detach-locked");
    let key = qt6.scratch.key.clone();
    let input = qt6.scratch.save("in.png", &test_image(10, 10, 2));
    let mut put = qt6.shmimage(&["put", input.to_str().unwrap()]);
    put.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "300");
    let writer = Publisher::start(put, "ready");
    // A reader paused mid-copy holds the semaphore. (A Qt 6 peer would not do: Qt 6's create
    // removes the semaphore's name and makes a new one.)
    let out = qt6.scratch.path("out.png");
    let mut get = qt6.shmimage(&["get", out.to_str().unwrap()]);
    get.env(shmimage::protocol::PAUSE_MID_COPY_ENV, "60000");
    let holder = Publisher::start(get, "paused mid-copy");
    assert!(writer.terminate().success());
    assert!(
        std::path::Path::new(&format!("/dev/shm/{key}")).exists(),
        "removed without the semaphore"
    );
    holder.kill_hard();
}

/// Ctrl-C while `get` holds Qt 6's semaphore (which has no undo) gives it back before exiting,
/// instead of leaving the key locked for every program.
#[test]
fn ctrl_c_during_a_qt6_get_gives_the_semaphore_back() {
    let qt6 = Qt6Key::new("qt6-sigint");
    let image = test_image(10, 10, 3);
    let input = qt6.scratch.save("in.png", &image);
    let _writer = Publisher::start(qt6.shmimage(&["put", input.to_str().unwrap()]), "ready");
    let out = qt6.scratch.path("out.png");
    let mut get = qt6.shmimage(&["get", out.to_str().unwrap()]);
    get.env(shmimage::protocol::PAUSE_MID_COPY_ENV, "60000");
    let getter = Publisher::start(get, "paused mid-copy");
    let signalled = Command::new("kill")
        .args(["-INT", &getter.child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    assert_eq!(getter.wait().code(), Some(130));
    let mut again = qt6.shmimage(&["get", out.to_str().unwrap()]);
    again.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "2000");
    let said = run_with_deadline(again);
    assert!(said.status.success(), "{said:?}");
    assert_eq!(load(&out), image);
}

/// When Qt 6's semaphore stays taken, the message names the processes that have it open (here
/// a stopped shmimage) instead of blaming a crashed Qt 6 program.
#[test]
fn a_qt6_semaphore_held_by_a_live_process_is_blamed_on_it() {
    let qt6 = Qt6Key::new("qt6-blame");
    let input = qt6.scratch.save("in.png", &test_image(10, 10, 4));
    let _writer = Publisher::start(qt6.shmimage(&["put", input.to_str().unwrap()]), "ready");
    let out = qt6.scratch.path("out.png");
    let mut get = qt6.shmimage(&["get", out.to_str().unwrap()]);
    get.env(shmimage::protocol::PAUSE_MID_COPY_ENV, "60000");
    let getter = Publisher::start(get, "paused mid-copy");
    let mut blocked = qt6.shmimage(&["get", out.to_str().unwrap()]);
    blocked.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "300");
    let said = run_with_deadline(blocked);
    let err = String::from_utf8_lossy(&said.stderr);
    let pid = getter.child.id();
    assert!(
        !said.status.success() && err.contains(&format!("pid {pid} (shmimage)")),
        "{err}"
    );
    assert!(!err.contains("died while holding it"), "{err}");
}

/// A writer that created Qt 6's semaphore removes its name when done, but not a newer semaphore
/// that someone made under the same name after the first one was removed.
#[test]
fn a_qt6_writer_removes_only_the_semaphore_it_created() {
    use std::os::unix::fs::MetadataExt;
    let qt6 = Qt6Key::new("qt6-sem-owner");
    let key = qt6.scratch.key.clone();
    let semaphore = format!("/dev/shm/sem.{key}");
    let first = qt6.scratch.save("first.png", &test_image(10, 10, 5));
    let second_image = test_image(12, 8, 6);
    let second = qt6.scratch.save("second.png", &second_image);
    let writer_a = Publisher::start(qt6.shmimage(&["put", first.to_str().unwrap()]), "ready");
    std::fs::remove_file(&semaphore).unwrap();
    let writer_b = Publisher::start(qt6.shmimage(&["put", second.to_str().unwrap()]), "ready");
    let newer = std::fs::metadata(&semaphore).unwrap().ino();
    assert!(writer_a.terminate().success());
    assert_eq!(
        std::fs::metadata(&semaphore).map(|m| m.ino()).ok(),
        Some(newer),
        "the first writer removed the second one's semaphore"
    );
    let out = qt6.scratch.path("out.png");
    let said = run_with_deadline(qt6.shmimage(&["get", out.to_str().unwrap()]));
    assert!(said.status.success(), "{said:?}");
    assert_eq!(load(&out), second_image);
    assert!(writer_b.terminate().success());
    assert!(!std::path::Path::new(&semaphore).exists());
}
