//! Other users' rows: a real second user (uid 65534, `nobody`, through util-linux's `setpriv`)
//! tries to read, replace and block ours, and meets a root run's leftover. Only root can run
//! another user; as anyone else the rows say so. The second user works in a folder the check
//! makes for it and removes afterwards ([`remove_other_users_folder`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::{Spawned, first_line, run_bounded};
use super::scenarios::{Observed, Scenario, expect};
use super::{Check, Column, PREFIX, not_measured};
use crate::protocol;
use crate::sentence::{Sentence, sentence};

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
fn unavailable(check: &Check) -> Option<Sentence> {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata(&check.work).is_ok_and(|meta| meta.uid() == 0);
    if !root {
        return Some(not_measured(sentence!(
            "it needs root, to run a second user (sudo shmimage check)"
        )));
    }
    let setpriv = Command::new("setpriv").arg("--version").output();
    if !setpriv.is_ok_and(|out| out.status.success()) {
        return Some(not_measured(sentence!(
            "it needs setpriv (util-linux) to run a second user"
        )));
    }
    let mut runs = as_other_user();
    runs.arg(&check.exe).arg("--version");
    if !run_bounded(runs).is_ok_and(|out| out.status.success()) {
        return Some(not_measured(sentence!(
            "uid %{uid} cannot run %{program} (it must be able to enter its folders)",
            uid = OTHER_UID,
            program = check.exe.display().to_string()
        )));
    }
    None
}

#[cfg(not(target_os = "linux"))]
fn unavailable(_check: &Check) -> Option<Sentence> {
    Some(not_measured(if cfg!(windows) {
        sentence!(
            "a second Windows user runs only with their password (runas), and under Wine every program is the same user"
        )
    } else {
        sentence!(
            "on macOS the check cannot run a second user yet: it does so with Linux's setpriv"
        )
    }))
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

fn outcome(result: &Result<String, String>) -> Sentence {
    match result {
        Ok(_) => sentence!("worked"),
        Err(err) => sentence!("refused (%{error})", error = err),
    }
}

fn worked_or_failed(worked: bool) -> Sentence {
    if worked {
        sentence!("worked")
    } else {
        sentence!("failed")
    }
}

pub(super) fn another_user(check: &Check, key: &str) -> Observed {
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
        sentence!(
            "uid %{uid} pointed at our directory: %{tried}; its own publish under the same key %{theirs}; then our get %{ours} and our next publish %{next}",
            uid = OTHER_UID,
            // The same refusal twice says nothing new: once is enough.
            tried = match (&read, &replace) {
                (Err(got), Err(put)) if got == put => {
                    sentence!("get and put refused (%{error})", error = got)
                }
                _ => sentence!(
                    "get %{read}, put %{replace}",
                    read = outcome(&read),
                    replace = outcome(&replace)
                ),
            },
            theirs = worked_or_failed(theirs.is_ok()),
            ours = if intact {
                sentence!("read our image")
            } else {
                sentence!("did not read our image")
            },
            next = worked_or_failed(next.is_ok())
        ),
    )
}

fn root_leftover(check: &Check, key: &str) -> Observed {
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
        sentence!(
            "our killed writer left %{left} segment in our directory; uid %{uid}'s publish under the same key %{theirs}, and its get %{read}",
            left = left,
            uid = OTHER_UID,
            theirs = worked_or_failed(theirs.is_ok()),
            read = outcome(&read)
        ),
    )
}

fn qt_root_leftover(check: &Check, key: &str) -> Observed {
    if let Some(why) = unavailable(check) {
        return Ok(why);
    }
    let other = OtherUser::prepare(check)?;
    #[cfg(unix)]
    let temp = crate::protocol::qt_rules::qt_temp_dir();
    #[cfg(not(unix))]
    let temp = std::env::temp_dir();
    if !other.may_write(&temp) {
        return Ok(not_measured(sentence!(
            "uid %{uid} may not make files in Qt's temporary folder %{folder} (TMPDIR), so its Qt programs use another folder and never meet ours",
            uid = OTHER_UID,
            folder = temp.display().to_string()
        )));
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
        sentence!(
            "after our Qt writer was killed, uid %{uid}'s put --qt %{theirs}",
            uid = OTHER_UID,
            theirs = outcome(&theirs)
        ),
    )
}
