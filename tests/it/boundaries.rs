//! `shmimage check`'s boundary rows, met as a QA engineer meets such machines: a small tmpfs, a
//! private IPC namespace with a small `shmmax`, a private /dev/shm inside a Flatpak-like mount
//! namespace, and a second user. All real mechanisms (mount, unshare, chroot, setpriv), so all
//! need root: `scripts/check.sh` runs them (`--include-ignored`) as root.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use image::RgbaImage;
use serde_json::Value;

use crate::faults::require_root;
use crate::util::{BIN, Scratch, run_with_deadline};

/// The row of a `check --json` report in `section` whose rules and scenario are these.
fn row<'a>(report: &'a Value, section: &str, rules: &str, scenario: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| {
            row["section"] == section && row["rules"] == rules && row["scenario"] == scenario
        })
        .unwrap_or_else(|| panic!("no {section}/{rules}/{scenario} row in {report}"))
}

fn observed<'a>(report: &'a Value, section: &str, rules: &str, scenario: &str) -> &'a str {
    row(report, section, rules, scenario)["observed"]
        .as_str()
        .unwrap()
}

fn json(output: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}\n{output:?}"))
}

/// A mount that is undone when the test ends, however it ends.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn noise(width: u32, height: u32) -> RgbaImage {
    let mut state = 0x2545_f491u32;
    RgbaImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        image::Rgba(state.to_le_bytes())
    })
}

/// A 64 MiB tmpfs as the segment directory (Docker's /dev/shm): the size row says how much
/// room there is and the largest raw image that fits, and a 16 MP raw publish there fails with
/// that very sentence.
#[test]
#[ignore = "needs root: mounts a 64 MiB tmpfs"]
fn a_64_mib_segment_directory_is_measured_and_a_16_mp_image_gets_the_same_sentence() {
    require_root();
    let scratch = Scratch::new("boundary-tmpfs");
    let small = scratch.path("small");
    std::fs::create_dir(&small).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(status.success(), "mount a 64 MiB tmpfs");
    let _mounted = Mounted(small.clone());
    let dir = small.join("segments");
    let tmp = scratch.path("tmp");
    std::fs::create_dir(&tmp).unwrap();

    let mut check = scratch.cmd(&["check", "--json"]);
    check.env("SHMIMAGE_DIR", &dir).env("TMPDIR", &tmp);
    let output = run_with_deadline(check);
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    let size = observed(&report, "limits", "shmimage", "the largest segment");
    let room = "room for 64.0 MiB: the largest raw image that fits is about 16.8 MP (4095 × 4095 pixels); PNG encoding or a smaller image is needed above that";
    assert!(size.starts_with(room), "{size}");

    let big = scratch.save("16mp.png", &RgbaImage::new(4096, 4096));
    let mut put = scratch.cmd(&["put", big.to_str().unwrap(), "--encoding", "raw"]);
    put.env("SHMIMAGE_DIR", &dir);
    let output = run_with_deadline(put);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains(room), "{said}");
}

/// A private IPC namespace with `shmmax` at 1 MiB (a container's): the container row says System
/// V keys are not shared outside, the Qt 5 column's lifetime rows still pass, the size row finds
/// the 1 MiB exactly, and a Qt publish over it names the limit.
#[test]
#[ignore = "needs root: unshare --ipc"]
fn a_private_ipc_namespace_is_named_and_its_shmmax_measured() {
    require_root();
    let scratch = Scratch::new("boundary-ipc");
    let tmp = scratch.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let big = scratch.save("noise.png", &noise(1024, 1024)); // a PNG of about 4 MiB
    let script = r#"echo 1048576 > /proc/sys/kernel/shmmax || exit 9
        "$0" check --json > "$1"
        "$0" --qt put "$2" --key boundary-ipc 2> "$3"
        exit 0"#;
    let mut cmd = Command::new("unshare");
    cmd.args(["--ipc", "sh", "-c", script, BIN])
        .arg(scratch.path("report.json"))
        .arg(&big)
        .arg(scratch.path("put.txt"))
        .env("SHMIMAGE_DIR", scratch.seg_dir())
        .env("TMPDIR", &tmp);
    let output = run_with_deadline(cmd);
    assert!(output.status.success(), "{output:?}");
    let text = std::fs::read_to_string(scratch.path("report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    let container = observed(&report, "place", "this machine", "a container");
    assert!(
        container.contains("IPC namespace of its own")
            && container.contains(
                "System V keys, and so Qt 5 mode, are not shared with programs outside it"
            ),
        "{container}"
    );
    for row in report["rows"].as_array().unwrap() {
        if row["section"] == "lifetime" && row["rules"] == "Qt 5 rules" {
            assert_eq!(row["passed"], true, "{row}");
        }
    }
    let size = observed(&report, "limits", "Qt 5 rules", "the largest segment");
    assert!(
        size.starts_with("1048576 bytes (1.0 MiB), with shmmax 1048576"),
        "{size}"
    );
    let said = std::fs::read_to_string(scratch.path("put.txt")).unwrap();
    assert!(
        said.contains("at most kernel.shmmax, here 1048576 bytes (1.0 MiB), and this image needs"),
        "{said}"
    );
}

/// A Flatpak-like sandbox: a mount namespace with a fresh tmpfs on /dev/shm and a
/// /.flatpak-info (in an overlay of /, so the host's / is never written), entered with chroot.
/// The sandbox row names Flatpak and what it means.
#[test]
#[ignore = "needs root: unshare -m, overlay and chroot"]
fn a_flatpak_sandbox_is_named() {
    require_root();
    let scratch = Scratch::new("boundary-flatpak");
    let (upper, work, root) = (
        scratch.path("upper"),
        scratch.path("work"),
        scratch.path("root"),
    );
    for dir in [&upper, &work, &root] {
        std::fs::create_dir(dir).unwrap();
    }
    let script = r#"set -e
        mount -t overlay overlay -o "lowerdir=/,upperdir=$1,workdir=$2" "$3"
        : > "$3/.flatpak-info"
        mount -t proc proc "$3/proc"
        mount --rbind /dev "$3/dev"
        mount -t tmpfs -o size=64m tmpfs "$3/dev/shm"
        mkdir -p "$3/tmp/flatpak-check"
        exec chroot "$3" env TMPDIR=/tmp/flatpak-check "$4" check --json"#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .args([&upper, &work, &root])
        .arg(BIN)
        .env_remove("SHMIMAGE_DIR");
    let output = run_with_deadline(cmd);
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    let sandbox = observed(&report, "place", "this machine", "a sandbox");
    assert!(
        sandbox.starts_with("Flatpak (/.flatpak-info): the app has a private /dev/shm"),
        "{sandbox}"
    );
    // Nothing was written to the host's /.
    assert!(!std::path::Path::new("/.flatpak-info").exists());
}

/// As root with a real second user: the other users' rows are measured, and Qt's is too when
/// both users share Qt's temporary folder (a world-writable one here, as /tmp is). As that second
/// user, the rows say they need root.
#[test]
#[ignore = "needs root: runs a second user with setpriv"]
fn other_users_rows_are_measured_as_root_and_need_root_otherwise() {
    require_root();
    let scratch = Scratch::new("boundary-users");
    std::fs::set_permissions(scratch.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let shared = scratch.path("shared-tmp");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let mut check = scratch.cmd(&["check", "--json"]);
    check.env("TMPDIR", &shared);
    let output = run_with_deadline(check);
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    for (rules, scenario, says) in [
        (
            "shmimage",
            "another user",
            "uid 65534 pointed at our directory: get and put refused",
        ),
        (
            "shmimage",
            "a root run's leftover, for another user",
            "uid 65534's publish under the same key worked",
        ),
        (
            "Qt 5 rules",
            "a root run's leftover, for another user",
            "uid 65534's put --qt refused",
        ),
    ] {
        let found = row(&report, "users", rules, scenario);
        assert_eq!(found["passed"], true, "{found}");
        assert!(
            found["observed"].as_str().unwrap().contains(says),
            "{found}"
        );
    }
    // Nothing of the second user's is left in /tmp, nor Qt's key files in the shared folder.
    let left: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("shmimage-check-")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
}
