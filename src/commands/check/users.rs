//! Other users' rows: a real second user (uid 65534, `nobody`, through util-linux's `setpriv`)
//! tries to read, replace and block ours, and meets a root run's leftover. Only root can run
//! another user; as anyone else the rows say so. The second user works in a folder the check
//! makes for it and removes afterwards ([`remove_other_users_folder`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::{Spawned, first_line, run_bounded};
use super::scenarios::{Scenario, expect};
use super::{Check, Column, PREFIX};
use crate::protocol;

/// `nobody` on Debian and most Linux systems.
const OTHER_UID: u32 = 65534;

pub(super) const ROWS: &[Scenario] = &[
    Scenario {
        column: Column::Shmimage,
        slug: "otheruser",
        name: "another user",
        expected: "cannot read or replace our image, and does not block our next publish",
        run: another_user,
    },
    Scenario {
        column: Column::Shmimage,
        slug: "rootleft",
        name: "a root run's leftover, for another user",
        expected: "does not block them: each user has a directory of their own",
        run: root_leftover,
    },
    Scenario {
        column: Column::QtRules,
        slug: "qtrootleft",
        name: "a root run's leftover, for another user",
        expected: "blocks their publish: Qt's key files and System V keys are one namespace for \
                   every user (Qt's example: \"Unable to create shared memory segment.\")",
        run: qt_root_leftover,
    },
];

/// The folder the second user of run `pid` works in (their segment directory, and a copy of an
/// image): in /tmp, which every user may enter, whatever `TMPDIR` the check was given.
fn other_users_folder(pid: u32) -> PathBuf {
    Path::new("/tmp").join(format!("{PREFIX}-{pid}-uid{OTHER_UID}"))
}

/// Removes the second user's folder that run `pid` made, when that run ends or the next one
/// cleans up after it (its contents are the second user's throw-away segments; a link in its
/// place is removed, never followed).
pub(super) fn remove_other_users_folder(pid: u32) {
    let _ = std::fs::remove_dir_all(other_users_folder(pid));
}

/// `setpriv` set to run what follows as the second user, with no groups of ours.
fn as_other_user() -> Command {
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={OTHER_UID}"))
        .arg(format!("--regid={OTHER_UID}"))
        .args(["--clear-groups", "--"]);
    command
}

/// Why a second user cannot be run here, if it cannot.
#[cfg(target_os = "linux")]
fn unavailable(check: &Check) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata(&check.work).is_ok_and(|meta| meta.uid() == 0);
    if !root {
        return Some(
            "not measured: it needs root, to run a second user (sudo shmimage check)".to_owned(),
        );
    }
    let setpriv = Command::new("setpriv").arg("--version").output();
    if !setpriv.is_ok_and(|out| out.status.success()) {
        return Some("not measured: it needs setpriv (util-linux) to run a second user".to_owned());
    }
    let mut runs = as_other_user();
    runs.arg(&check.exe).arg("--version");
    if !run_bounded(runs).is_ok_and(|out| out.status.success()) {
        return Some(format!(
            "not measured: uid {OTHER_UID} cannot run {} (it must be able to enter its folders)",
            check.exe.display()
        ));
    }
    None
}

#[cfg(not(target_os = "linux"))]
fn unavailable(_check: &Check) -> Option<String> {
    Some(if cfg!(windows) {
        "not measured: a second Windows user runs only with their password (runas), and under \
         Wine every program is the same user"
            .to_owned()
    } else {
        "not measured on macOS yet: the check runs a second user with Linux's setpriv".to_owned()
    })
}

/// The second user, ready: their folder exists, is theirs, and holds a copy of second.png.
struct OtherUser {
    folder: PathBuf,
}

impl OtherUser {
    #[cfg(unix)]
    fn prepare(check: &Check) -> Result<Self, String> {
        let folder = other_users_folder(std::process::id());
        if !folder.exists() {
            crate::safe_fs::create_new_private_dir(&folder).map_err(|e| e.to_string())?;
            std::fs::copy(check.work.join("second.png"), folder.join("second.png"))
                .map_err(|e| e.to_string())?;
            for path in [folder.join("second.png"), folder.clone()] {
                std::os::unix::fs::chown(&path, Some(OTHER_UID), Some(OTHER_UID)).map_err(|e| {
                    format!("cannot give {} to uid {OTHER_UID}: {e}", path.display())
                })?;
            }
        }
        Ok(Self { folder })
    }

    #[cfg(not(unix))]
    fn prepare(_check: &Check) -> Result<Self, String> {
        Err("a second user runs on Linux only".to_owned())
    }

    /// `shmimage ARGS --key KEY` as the second user, in `dir` (their own folder unless given).
    fn command(&self, check: &Check, key: &str, args: &[&str], dir: Option<&Path>) -> Command {
        let mut command = as_other_user();
        command.arg(&check.exe);
        let ours = check.command(key, args);
        command.args(ours.get_args());
        for (name, value) in ours.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command.env(
            protocol::DIR_ENV,
            dir.unwrap_or(&self.folder.join("segments")),
        );
        command
    }

    /// Whether the second user may make files in `dir`.
    fn may_write(&self, dir: &Path) -> bool {
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={OTHER_UID}"))
            .arg(format!("--regid={OTHER_UID}"))
            .args([
                "--clear-groups",
                "--",
                "sh",
                "-c",
                "test -w \"$1\" && test -x \"$1\"",
                "sh",
            ])
            .arg(dir);
        run_bounded(command).is_ok_and(|output| output.status.success())
    }

    /// Runs `shmimage ARGS` as the second user: `Ok(first line)` if it worked, else `Err`.
    fn run(
        &self,
        check: &Check,
        key: &str,
        args: &[&str],
        dir: Option<&Path>,
    ) -> Result<String, String> {
        let output = run_bounded(self.command(check, key, args, dir))?;
        if output.status.success() {
            Ok(first_line(&output.stdout))
        } else {
            Err(first_line(&output.stderr))
        }
    }

    /// The second user publishes its image under `key` in its own folder, and holds it.
    fn publish(&self, check: &Check, key: &str) -> Result<Spawned, String> {
        // Ends when the check is done with it (its stdin closes), else after 20 s.
        let args = [
            "put",
            &self.image(),
            "--hold-ms",
            "20000",
            "--until-stdin-closes",
        ];
        Spawned::start(self.command(check, key, &args, None), "ready")
    }

    fn image(&self) -> String {
        self.folder.join("second.png").display().to_string()
    }

    fn out(&self) -> String {
        self.folder.join("out.png").display().to_string()
    }
}

fn outcome(result: &Result<String, String>) -> String {
    match result {
        Ok(_) => "worked".to_owned(),
        Err(err) => format!("refused ({err})"),
    }
}

pub(super) fn another_user(check: &Check, key: &str) -> Result<String, String> {
    if let Some(why) = unavailable(check) {
        return Ok(why);
    }
    let other = OtherUser::prepare(check)?;
    let _ours = check.put(key, "first.png", &[])?;
    let ours = Some(check.dir.path());
    let read = other.run(check, key, &["get", &other.out()], ours);
    let replace = other.run(
        check,
        key,
        &["put", &other.image(), "--hold-ms", "100"],
        ours,
    );
    let theirs = other.publish(check, key);
    let still_ours = check.get(key, &[]);
    let intact = matches!(&still_ours, Ok(image) if *image == check.first);
    let next = check.put(key, "second.png", &["--hold-ms", "100"]);
    expect(
        read.is_err() && replace.is_err() && theirs.is_ok() && intact && next.is_ok(),
        format!(
            "uid {OTHER_UID} pointed at our directory: {}; its own publish under the same key {}; \
             then our get {} and our next publish {}",
            // The same refusal twice says nothing new: once is enough.
            match (&read, &replace) {
                (Err(got), Err(put)) if got == put => format!("get and put refused ({got})"),
                _ => format!("get {}, put {}", outcome(&read), outcome(&replace)),
            },
            if theirs.is_ok() { "worked" } else { "failed" },
            if intact {
                "read our image"
            } else {
                "did not read our image"
            },
            if next.is_ok() { "worked" } else { "failed" }
        ),
    )
}

fn root_leftover(check: &Check, key: &str) -> Result<String, String> {
    if let Some(why) = unavailable(check) {
        return Ok(why);
    }
    let other = OtherUser::prepare(check)?;
    check.put(key, "first.png", &[])?.kill()?;
    check.wait_until_released(key);
    let left = check.segments(key).len();
    let theirs = other.publish(check, key);
    let read = other.run(check, key, &["get", &other.out()], None);
    expect(
        left == 1 && theirs.is_ok() && read.is_ok(),
        format!(
            "our killed writer left {left} segment in our directory; uid {OTHER_UID}'s publish \
             under the same key {}, and its get {}",
            if theirs.is_ok() { "worked" } else { "failed" },
            outcome(&read)
        ),
    )
}

fn qt_root_leftover(check: &Check, key: &str) -> Result<String, String> {
    if let Some(why) = unavailable(check) {
        return Ok(why);
    }
    let other = OtherUser::prepare(check)?;
    #[cfg(unix)]
    let temp = crate::protocol::qt_rules::qt_temp_dir();
    #[cfg(not(unix))]
    let temp = std::env::temp_dir();
    if !other.may_write(&temp) {
        return Ok(format!(
            "not measured: uid {OTHER_UID} may not make files in Qt's temporary folder {} \
             (TMPDIR), so its Qt programs use another folder and never meet ours",
            temp.display()
        ));
    }
    check.put(key, "first.png", &["--qt"])?.kill()?;
    let theirs = other.run(
        check,
        key,
        &["put", &other.image(), "--qt", "--hold-ms", "100"],
        None,
    );
    expect(
        theirs.is_err(),
        format!(
            "after our Qt writer was killed, uid {OTHER_UID}'s put --qt {}",
            outcome(&theirs)
        ),
    )
}
