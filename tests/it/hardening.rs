//! The holes a review of the shared-memory core found (issue 12), each closed with a test that
//! failed before the fix. Real processes throughout; root-only ones are #[ignore]d and run by
//! `scripts/check.sh` as root.

#[cfg(target_os = "linux")]
use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use std::process::Command;

use crate::util::{Publisher, Scratch, load, run_with_deadline, test_image};

/// The segment files and the lock and state files of the scratch's key.
fn native_key(scratch: &Scratch) -> String {
    shmimage::ipc::segment::native_key_for(&scratch.key).unwrap()
}

/// One directory is one lock, whatever the environment says: on Windows the lock was a named
/// mutex called after `%USERNAME%`, so two processes sharing a directory under different user
/// names did not exclude each other, and a reader saw a half-written image.
#[test]
fn one_directory_is_one_lock_whatever_the_user_name() {
    let scratch = Scratch::new("one-lock");
    let input = scratch.save("in.png", &test_image(64, 64, 1));
    let mut writer = scratch.cmd(&["put", input.to_str().unwrap()]);
    writer
        .env(shmimage::protocol::PAUSE_MID_COPY_ENV, "60000")
        .env("USERNAME", "alice");
    let writer = Publisher::start(writer, "paused mid-copy");
    let out = scratch.path("out.png");
    let mut reader = scratch.cmd(&["get", out.to_str().unwrap()]);
    reader
        .env(shmimage::protocol::LOCK_TIMEOUT_ENV, "300")
        .env("USERNAME", "bob");
    let said = run_with_deadline(reader);
    let err = String::from_utf8_lossy(&said.stderr);
    let pid = writer.child.id();
    assert!(
        err.contains(&format!("locked by another process (pid {pid})")),
        "{err}"
    );
}

/// A state file whose generation cannot grow (u64::MAX) starts over instead of overflowing: a
/// debug build panicked, a release build wrote `.g0.seg`, which readers never see.
#[test]
fn a_state_file_at_the_largest_generation_starts_over() {
    let scratch = Scratch::new("state-max");
    let image = test_image(8, 8, 2);
    let input = scratch.save("in.png", &image);
    scratch.put(&input, &[]).terminate();
    let state = scratch
        .seg_dir()
        .join(format!("{}.state", native_key(&scratch)));
    let mut bytes = std::fs::read(&state).unwrap();
    bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&state, &bytes).unwrap();

    let publisher = scratch.put(&input, &[]);
    assert!(
        !publisher.first_line.contains("generation=0"),
        "{}",
        publisher.first_line
    );
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(load(&out), image);
}

/// `clean` removes the lock and state files of keys that have no segment left, and the key works
/// again afterwards (whoever locks re-checks that the lock file is still the key's).
#[test]
fn clean_removes_idle_lock_and_state_files() {
    let scratch = Scratch::new("clean-idle");
    let image = test_image(8, 8, 3);
    let input = scratch.save("in.png", &image);
    scratch.put(&input, &[]).terminate();
    let native = native_key(&scratch);
    let lock = scratch.seg_dir().join(format!("{native}.lock"));
    assert!(lock.exists(), "the key was used");
    scratch.ok(&["clean"]);
    #[cfg(unix)]
    assert_eq!(
        std::fs::read_dir(scratch.seg_dir()).unwrap().count(),
        0,
        "clean left files behind"
    );
    let _publisher = scratch.put(&input, &[]);
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(load(&out), image);
}

/// A segment file is live (holds its shared lock) from the moment it appears in the directory:
/// the space reservation after creation takes hundreds of milliseconds for a large image, and
/// anything checking liveness in that moment must not take it for a leftover.
#[cfg(unix)]
#[test]
fn a_new_segment_file_is_live_from_the_moment_it_appears() {
    let scratch = Scratch::new("live-at-once");
    let input = scratch.save("in.png", &test_image(32, 32, 4));
    let mut cmd = scratch.cmd(&["put", input.to_str().unwrap()]);
    cmd.env(shmimage::protocol::PAUSE_AFTER_CREATE_ENV, "60000");
    let publisher = Publisher::start(cmd, "paused after create");
    let files = scratch.segment_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&files[0])
        .unwrap();
    assert!(
        matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        "the new segment file is not marked live yet"
    );
    drop(publisher);
}

/// A Qt 6 key that starts with '/' (as Qt's own `platformSafeKey` makes them) names
/// /dev/shm/<key>, like glibc's `shm_open`; it used to create the file at the filesystem root.
#[cfg(target_os = "linux")]
#[test]
fn a_qt6_key_with_a_leading_slash_stays_in_dev_shm() {
    let scratch = Scratch::new("qt6-slash");
    let name = format!("shmimage-probe-{}", std::process::id());
    let image = test_image(12, 7, 5);
    let input = scratch.save("in.png", &image);
    let cleanup = RemoveOnDrop(vec![
        PathBuf::from(format!("/dev/shm/{name}")),
        PathBuf::from(format!("/dev/shm/sem.{name}")),
        PathBuf::from(format!("/{name}")),
    ]);
    let slashed = format!("/{name}");
    let mut put = scratch.cmd_with_key(&slashed, &["--qt6", "put", input.to_str().unwrap()]);
    put.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "2000");
    let publisher = Publisher::start(put, "ready");
    assert!(
        !Path::new(&slashed).exists(),
        "{slashed} was created at the root"
    );
    assert!(Path::new(&format!("/dev/shm/{name}")).exists());
    // The same object without the slash.
    let out = scratch.path("out.png");
    let got =
        run_with_deadline(scratch.cmd_with_key(&name, &["--qt6", "get", out.to_str().unwrap()]));
    assert!(got.status.success(), "{got:?}");
    assert_eq!(load(&out), image);
    assert!(publisher.terminate().success());
    for bad in ["/../etc/shmimage-x", "a/b", "//", ".."] {
        let said = run_with_deadline(
            scratch.cmd_with_key(bad, &["--qt6", "put", input.to_str().unwrap()]),
        );
        let err = String::from_utf8_lossy(&said.stderr);
        assert!(
            !said.status.success() && err.starts_with("error: invalid key"),
            "{bad}: {err}"
        );
    }
    assert!(!Path::new("/etc/shmimage-x").exists());
    drop(cleanup);
}

/// A Qt 6 segment of a claimed 100 GiB (a sparse file anyone can plant in /dev/shm) is refused
/// before it is mapped or copied, with little memory.
#[cfg(target_os = "linux")]
#[test]
fn an_oversized_qt6_segment_is_refused_before_mapping_in_little_memory() {
    let scratch = Scratch::new("qt6-huge");
    let name = format!("shmimage-huge-{}", std::process::id());
    let (path, _cleanup) = plant_huge_qt6_segment(&name);
    let out = scratch.path("out.png");
    let get = scratch.cmd_with_key(&name, &["--qt6", "get", out.to_str().unwrap()]);
    let (said, peak_kib) = run_measuring_peak_memory(get);
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(
        !said.status.success() && err.contains("more than any image within the limits can need"),
        "{err}"
    );
    assert!(peak_kib < 100 * 1024, "peak {peak_kib} KiB");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        100 << 30,
        "left alone"
    );
}

/// Another user's segment under a Qt 6 key is refused, naming its owner, and left alone.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: plants a file owned by another user"]
fn another_users_qt6_segment_is_refused_naming_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    crate::faults::require_root();
    let scratch = Scratch::new("qt6-foreign");
    let name = format!("shmimage-foreign-{}", std::process::id());
    let (path, _cleanup) = plant_huge_qt6_segment(&name);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    let out = scratch.path("out.png");
    let said =
        run_with_deadline(scratch.cmd_with_key(&name, &["--qt6", "get", out.to_str().unwrap()]));
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(
        !said.status.success() && err.contains("belongs to uid 65534, not to you"),
        "{err}"
    );
    // And a writer does not replace it either.
    let input = scratch.save("in.png", &test_image(4, 4, 1));
    let said =
        run_with_deadline(scratch.cmd_with_key(&name, &["--qt6", "put", input.to_str().unwrap()]));
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(
        !said.status.success() && err.contains("belongs to uid 65534"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        100 << 30,
        "left alone"
    );
}

/// Another user who creates `/dev/shm/shmimage-<uid>` first does not deny service: the next
/// private directory is used, and the log says where.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: runs a squatter and a victim as two users"]
fn a_squatted_segment_directory_does_not_deny_service() {
    use std::os::unix::fs::PermissionsExt;
    crate::faults::require_root();
    // A uid no other test uses, so its default directory is ours to squat.
    const VICTIM: u32 = 65533;
    let scratch = Scratch::new("squat");
    let squatted = PathBuf::from(format!("/dev/shm/shmimage-{VICTIM}"));
    let _ = std::fs::remove_dir_all(&squatted);
    std::fs::create_dir(&squatted).unwrap(); // root squats it
    let home = std::env::temp_dir().join(format!("shmimage-squat-home-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(vec![squatted.clone(), home.clone()]);
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(VICTIM), Some(VICTIM)).unwrap();
    let bin = home.join("shmimage");
    std::fs::copy(crate::util::BIN, &bin).unwrap();
    let image = test_image(9, 9, 6);
    let input = home.join("in.png");
    image.save(&input).unwrap();
    std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o644)).unwrap();
    let as_victim = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={VICTIM}"),
            &format!("--regid={VICTIM}"),
            "--clear-groups",
            "--",
        ])
        .arg(&bin)
        .args(args)
        .args(["--key", &scratch.key])
        .env_remove("SHMIMAGE_DIR")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", &home);
        cmd
    };
    let publisher = Publisher::start(as_victim(&["put", input.to_str().unwrap()]), "ready");
    let out = home.join("out.png");
    let said = run_with_deadline(as_victim(&["get", out.to_str().unwrap()]));
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(said.status.success(), "{said:?}");
    assert!(
        err.contains("using") && err.contains(".cache/shmimage/segments"),
        "says where: {err}"
    );
    assert_eq!(load(&out), image);
    drop(publisher);
}

/// A leftover that cannot be removed (here: something mounted over it, so unlink says EBUSY)
/// is passed over with a log line instead of failing every create and attach for its key.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: bind-mounts a file over a leftover"]
fn a_leftover_that_cannot_be_removed_does_not_block_the_key() {
    crate::faults::require_root();
    let scratch = Scratch::new("stuck-leftover");
    let first = test_image(6, 6, 7);
    let input = scratch.save("first.png", &first);
    scratch.put(&input, &[]).kill_hard();
    let leftover = scratch.segment_files();
    assert_eq!(leftover.len(), 1);
    let cover = scratch.path("cover");
    std::fs::write(&cover, b"x").unwrap();
    let mounted = Command::new("mount")
        .arg("--bind")
        .arg(&cover)
        .arg(&leftover[0])
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(leftover[0].clone());

    let second = test_image(5, 5, 8);
    let input = scratch.save("second.png", &second);
    let _publisher = scratch.put(&input, &[]);
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(load(&out), second);
}

/// A sparse file claiming 100 GiB at `/dev/shm/<name>`, as anyone can plant one, removed (with
/// any semaphore of that name) when the returned guard is dropped.
#[cfg(target_os = "linux")]
fn plant_huge_qt6_segment(name: &str) -> (PathBuf, RemoveOnDrop) {
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let cleanup = RemoveOnDrop(vec![
        path.clone(),
        PathBuf::from(format!("/dev/shm/sem.{name}")),
    ]);
    std::fs::File::create(&path)
        .unwrap()
        .set_len(100 << 30)
        .unwrap();
    (path, cleanup)
}

/// Removes paths (files or directories) when dropped, whatever happened.
#[cfg(target_os = "linux")]
pub(crate) struct RemoveOnDrop(pub(crate) Vec<PathBuf>);

#[cfg(target_os = "linux")]
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir_all(path));
        }
    }
}

/// Runs `cmd` under a Python parent that reports the child's peak resident memory (KiB), so the
/// figure belongs to that one process (the tests' own process has many children at once).
#[cfg(target_os = "linux")]
pub(crate) fn run_measuring_peak_memory(cmd: Command) -> (std::process::Output, u64) {
    let mut wrapper = Command::new("/usr/bin/python3");
    wrapper.args([
        "-c",
        "import resource, subprocess, sys\n\
         done = subprocess.run(sys.argv[1:], capture_output=True)\n\
         sys.stdout.buffer.write(done.stdout)\n\
         sys.stderr.buffer.write(done.stderr)\n\
         print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n\
         sys.exit(done.returncode)",
    ]);
    wrapper.arg(cmd.get_program()).args(cmd.get_args());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapper.env(name, value),
            None => wrapper.env_remove(name),
        };
    }
    let mut output = run_with_deadline(wrapper);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let (rest, peak) = stderr
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", stderr.trim_end()));
    let peak = peak.trim().parse().expect("peak memory line");
    output.stderr = rest.as_bytes().to_vec();
    (output, peak)
}
