//! Faults: publishers killed at every step while a reader keeps reading, a full segment
//! directory, and another user on the same machine.

#[cfg(target_os = "linux")]
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::util::{Publisher, Scratch, get_one_of, load, run_with_deadline, test_image};

/// Deterministic pseudo-random delays, so a failing round can be replayed.
fn delay_for(round: u32) -> Duration {
    let mixed = round.wrapping_mul(2_654_435_761) >> 7;
    Duration::from_micros(u64::from(mixed % 150_000))
}

#[test]
fn two_hundred_publishers_killed_at_random_moments_never_break_the_key() {
    const ROUNDS: u32 = 200;
    let scratch = Arc::new(Scratch::new("kill-loop"));
    // 1 MiB of pixels each, so the copy takes long enough to be hit.
    let images = [test_image(512, 512, 1), test_image(512, 512, 2)];
    let inputs = [
        scratch.save("a.png", &images[0]),
        scratch.save("b.png", &images[1]),
    ];

    // A reader fetching all the time: every image it accepts must be one of the two, whole.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (scratch, stop, images) = (scratch.clone(), stop.clone(), images.clone());
        std::thread::spawn(move || {
            let mut accepted = 0u32;
            let out = scratch.path("read.png");
            while !stop.load(Ordering::Relaxed) {
                if get_one_of(&scratch, &out, &images, "the reader") {
                    accepted += 1;
                }
            }
            accepted
        })
    };

    for round in 0..ROUNDS {
        let input = inputs[(round % 2) as usize].to_str().unwrap();
        let mut cmd = scratch.cmd(&["put", input]);
        if round % 10 == 0 {
            // Every tenth round dies for sure inside the copy, holding the lock.
            cmd.env(shmimage::protocol::PAUSE_MID_COPY_ENV, "60000");
            Publisher::start(cmd, "paused mid-copy").kill_hard();
        } else {
            // The others die at a random moment: before create, in it, mid-copy, or after.
            let mut child = cmd
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay_for(round));
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let accepted = reader.join().expect("the reader saw something wrong");
    eprintln!("the reader accepted {accepted} whole images during {ROUNDS} kills");

    // Nothing left blocks the next publisher, and no lock is left held: a reader allowed to
    // wait only half a second gets the new image.
    let publisher = scratch.put(&inputs[0], &[]);
    let out = scratch.path("after.png");
    let mut get = scratch.cmd(&["get", out.to_str().unwrap()]);
    get.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "500");
    let output = run_with_deadline(get);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(load(&out), images[0]);
    // And once the last publisher is gone, the directory holds no segment at all.
    drop(publisher);
    scratch.ok(&["clean"]);
    assert_eq!(scratch.segment_files(), Vec::<std::path::PathBuf>::new());
}

/// An ignored root-only test that is asked to run without root fails: it never passes unchecked.
#[cfg(target_os = "linux")]
pub(crate) fn require_root() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    let uid = String::from_utf8_lossy(&uid.stdout);
    assert_eq!(
        uid.trim(),
        "0",
        "this test needs root (run scripts/check.sh as root)"
    );
}

/// A 2 MiB tmpfs as the segment directory: an image that does not fit is refused with a clear
/// sentence (space is reserved before the mapping is touched, so never SIGBUS), and a small one
/// still works. Needs root to mount: `scripts/check.sh` runs it (`--include-ignored`) as root.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: mounts a 2 MiB tmpfs"]
fn a_full_segment_directory_is_a_clear_error_never_sigbus() {
    require_root();
    let scratch = Scratch::new("full");
    let mount_point = scratch.path("small-tmpfs");
    std::fs::create_dir(&mount_point).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs"])
        .arg(&mount_point)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a 2 MiB tmpfs");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount_point.clone());

    let with_small_dir = |args: &[&str]| {
        let mut cmd = scratch.cmd(args);
        cmd.env("SHMIMAGE_DIR", mount_point.join("segments"));
        cmd
    };
    let big = scratch.save("big.png", &test_image(1024, 1024, 5)); // 4 MiB of pixels
    let output = run_with_deadline(with_small_dir(&["put", big.to_str().unwrap()]));
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(err.starts_with("error: not enough shared memory"), "{err}");
    // What the room means in images: 2 MiB holds about 0.5 MP raw.
    assert!(
        err.contains("room for 2.0 MiB: the largest raw image that fits is about 0.5 MP (")
            && err.ends_with("pixels); PNG encoding or a smaller image is needed above that\n"),
        "{err}"
    );

    let small_image = test_image(100, 100, 6);
    let small = scratch.save("small.png", &small_image);
    let _publisher = Publisher::start(with_small_dir(&["put", small.to_str().unwrap()]), "ready");
    let out = scratch.path("out.png");
    let output = run_with_deadline(with_small_dir(&["get", out.to_str().unwrap()]));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(load(&out), small_image);
}

/// Two users, same key name, default directories: neither can read, replace or block the
/// other's image. Runs the second user as `nobody`, so it needs root: `scripts/check.sh` runs it
/// (`--include-ignored`) as root. Over 80 lines: one story told in order (the second user sets
/// up, tries to read, to replace, to block, to publish under the same key), each step checked.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: runs a second user with setpriv"]
fn another_user_can_neither_read_nor_replace_nor_block_my_image() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let scratch = Scratch::new("two-users");
    // A folder `nobody` can read, with a copy of the binary (the build dir may be private).
    let shared = std::env::temp_dir().join(format!("shmimage-two-users-{}", std::process::id()));
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _remove = Remove(shared.clone());
    let bin = shared.join("shmimage");
    std::fs::copy(crate::util::BIN, &bin).unwrap();
    let mine = test_image(20, 20, 1);
    let theirs = test_image(30, 10, 2);
    let my_input = shared.join("mine.png");
    let their_input = shared.join("theirs.png");
    mine.save(&my_input).unwrap();
    theirs.save(&their_input).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();

    let as_me = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.args(args)
            .args(["--key", &scratch.key])
            .env_remove("SHMIMAGE_DIR");
        cmd
    };
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&bin)
            .args(args)
            .args(["--key", &scratch.key])
            .env_remove("SHMIMAGE_DIR")
            .env("HOME", &shared);
        cmd
    };

    let my_publisher = Publisher::start(as_me(&["put", my_input.to_str().unwrap()]), "ready");
    // They see nothing under the same key name: their directory is their own.
    let out = run_with_deadline(as_nobody(&["get", shared.join("x.png").to_str().unwrap()]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing is shared"), "{err}");
    // They cannot read my segment file directly, nor point shmimage at my directory.
    let my_dir = "/dev/shm/shmimage-0";
    let listing = run_with_deadline({
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "ls",
            my_dir,
        ]);
        cmd
    });
    assert!(!listing.status.success(), "nobody could list {my_dir}");
    let mut pointed = as_nobody(&["get", shared.join("y.png").to_str().unwrap()]);
    pointed.env("SHMIMAGE_DIR", my_dir);
    let out = run_with_deadline(pointed);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.starts_with("error: ") && err.contains("not to you"),
        "{err}"
    );
    // They publish under the same key name, independently, and neither image replaces the other.
    let their_publisher =
        Publisher::start(as_nobody(&["put", their_input.to_str().unwrap()]), "ready");
    let my_out = shared.join("my-out.png");
    assert!(
        run_with_deadline(as_me(&["get", my_out.to_str().unwrap()]))
            .status
            .success()
    );
    assert_eq!(load(&my_out), mine);
    let their_out = shared.join("their-out.png");
    let out = run_with_deadline(as_nobody(&["get", their_out.to_str().unwrap()]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(load(&their_out), theirs);
    drop(their_publisher);
    drop(my_publisher);
}
