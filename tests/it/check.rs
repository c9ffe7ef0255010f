//! `shmimage check`: the lifetime table run on this machine by the real binary.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{DEADLINE, Scratch, run_with_deadline};

/// `shmimage check ARGS` with the scratch's segment directory and a temp dir of its own (where
/// the check's work folder and, for its Qt rows, Qt's key files go).
fn check(scratch: &Scratch, args: &[&str]) -> Command {
    let mut cmd = scratch.cmd(&[]);
    cmd.args(["check"])
        .args(args)
        .env("TMPDIR", scratch.path("tmp"));
    std::fs::create_dir_all(scratch.path("tmp")).unwrap();
    cmd
}

/// What the check left: files in the segment directory and in its temp dir.
fn left_behind(scratch: &Scratch) -> Vec<String> {
    let mut left = Vec::new();
    for dir in [scratch.seg_dir(), scratch.path("tmp")] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            left.extend(entries.flatten().map(|e| e.path().display().to_string()));
        }
    }
    left
}

#[test]
fn check_passes_here_and_leaves_nothing_behind() {
    let scratch = Scratch::new("check");
    let output = run_with_deadline(check(&scratch, &[]));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{output:?}");
    assert!(text.contains(" measured, 0 failed"), "{text}");
    assert!(text.contains("a writer is killed"), "{text}");
    #[cfg(target_os = "linux")]
    assert!(text.contains("[Qt 5 rules] a writer is killed"), "{text}");
    assert_eq!(left_behind(&scratch), Vec::<String>::new());
}

/// The test switch breaks one guarantee (leftovers are never removed): exactly that row fails,
/// and says what it saw.
#[test]
fn a_broken_guarantee_fails_exactly_its_row() {
    let scratch = Scratch::new("check-broken");
    let mut cmd = check(&scratch, &[]);
    cmd.env(shmimage::protocol::KEEP_LEFTOVERS_ENV, "1");
    let output = run_with_deadline(cmd);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(
        failed[0].contains("[shmimage] a writer is killed"),
        "{text}"
    );
    assert!(text.contains("1 left after that get"), "{text}");
    // The same in JSON, for scripts.
    let mut cmd = check(&scratch, &["--json"]);
    cmd.env(shmimage::protocol::KEEP_LEFTOVERS_ENV, "1");
    let output = run_with_deadline(cmd);
    let json = String::from_utf8_lossy(&output.stdout);
    assert!(
        json.starts_with('{') && json.contains("\"passed\":false"),
        "{json}"
    );
    assert_eq!(json.matches("\"passed\":false").count(), 2, "{json}");
}

#[test]
fn the_markdown_report_names_the_machine() {
    let scratch = Scratch::new("check-md");
    let output = run_with_deadline(check(&scratch, &["--markdown"]));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    for part in [
        "- OS: ",
        "- Architecture: ",
        "- Segment directory: ",
        "- shmimage: ",
        "- Date: ",
        "| rules | scenario | expected | observed | result | time |",
        "### Limits, measured",
        "| rules | scenario | how | observed | result | time |",
    ] {
        assert!(text.contains(part), "{part} missing:\n{text}");
    }
    assert!(
        text.contains(&scratch.seg_dir().display().to_string()),
        "{text}"
    );
}

/// Ctrl-C halfway removes everything at once; SIGKILL halfway leaves no process running, and
/// the next check removes the rest.
#[cfg(unix)]
#[test]
fn an_interrupted_check_leaves_nothing_behind() {
    for signal in ["-INT", "-KILL"] {
        let scratch = Scratch::new("check-interrupted");
        let mut child = check(&scratch, &[])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Halfway: once some row has made its segment files.
        let started = Instant::now();
        while !has_segments(&scratch.seg_dir()) {
            assert!(started.elapsed() < DEADLINE, "the check made no segment");
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        crate::util::wait_with_deadline(&mut child);
        let started = Instant::now();
        while children_of_check_running(&pid) {
            assert!(
                started.elapsed() < DEADLINE,
                "{signal}: children still running"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        if signal == "-INT" {
            assert_eq!(left_behind(&scratch), Vec::<String>::new(), "{signal}");
        } else {
            let output = run_with_deadline(check(&scratch, &[]));
            assert!(output.status.success(), "{output:?}");
            assert_eq!(left_behind(&scratch), Vec::<String>::new(), "{signal}");
        }
    }
}

#[cfg(unix)]
fn has_segments(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".seg"))
}

/// Whether a child of the check with this pid still runs: their keys are
/// `shmimage-check-<pid>-<row>`.
#[cfg(unix)]
fn children_of_check_running(check_pid: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", &format!("shmimage-check-{check_pid}-")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// An unprivileged user gets the same table, in their own default directory.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: runs the check as another user with setpriv"]
fn check_passes_for_an_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;
    crate::faults::require_root();
    let scratch = Scratch::new("check-nobody");
    let home = scratch.path("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(scratch.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let bin = home.join("shmimage");
    std::fs::copy(crate::util::BIN, &bin).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .arg("check")
        .env_remove("SHMIMAGE_DIR")
        .env("HOME", &home)
        .env("TMPDIR", &home);
    let output = run_with_deadline(cmd);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{output:?}");
    assert!(text.contains(" measured, 0 failed"), "{text}");
    // Its other users' rows cannot run a second user, and say why.
    assert!(
        text.contains(
            "observed: not measured: it needs root, to run a second user (sudo shmimage check)"
        ),
        "{text}"
    );
}

/// `check --compare` puts reports from two machines (this one's and Windows' under Wine, kept in
/// `checks/`) side by side: a column per OS and rules, a row per scenario, each once.
#[test]
fn compare_puts_two_machines_reports_side_by_side() {
    let scratch = Scratch::new("check-compare");
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("checks");
    let (linux, windows) = (
        reports.join("linux.json"),
        reports.join("windows-under-wine.json"),
    );
    let output = run_with_deadline(check(
        &scratch,
        &[
            "--compare",
            linux.to_str().unwrap(),
            windows.to_str().unwrap(),
        ],
    ));
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    // The lifetime table first, under its heading, then the boundaries' tables under theirs.
    assert_eq!(lines[0], "#### Lifetime", "{table}");
    let header = lines[2];
    assert!(
        header.contains("Linux") && header.contains("Windows"),
        "{header}"
    );
    assert_eq!(header.matches(" · shmimage |").count(), 2, "{header}");
    assert!(header.contains(" · Qt 5 rules |"), "{header}");
    let killed: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("| a writer is killed |"))
        .collect();
    assert_eq!(killed.len(), 1, "{table}");
    // Every column of that row says what it saw (no column is missing it).
    assert!(!killed[0].contains(" — |"), "{}", killed[0]);
    assert!(!table.contains("FAIL"), "{table}");
    for heading in [
        "#### Limits, measured",
        "#### Where this runs",
        "#### Other users",
        "#### Visibility",
    ] {
        assert!(table.contains(heading), "{heading} missing:\n{table}");
    }
    assert!(left_behind(&scratch).is_empty());
}

/// Something that is not a report is one sentence that says how to make one, never a panic;
/// an enormous file is refused before it is read whole.
#[test]
fn compare_refuses_what_is_not_a_report() {
    let scratch = Scratch::new("check-compare-bad");
    let text = scratch.path("notes.json");
    std::fs::write(&text, "these are my notes").unwrap();
    let huge = scratch.path("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    for path in [&text, &huge, &scratch.path("missing.json")] {
        let output = run_with_deadline(check(&scratch, &["--compare", path.to_str().unwrap()]));
        assert!(!output.status.success());
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(
            said.contains("is not a report of `shmimage check --json`")
                && said.contains("shmimage check --json > NAME.json")
                && !said.contains("panicked"),
            "{said}"
        );
    }
}

/// The README's lifetime table is `check --compare` of the measured reports in checks/, as
/// scripts/lifetime-table.sh writes it: a new report, or a change to the table's format, that
/// is not written into the README fails here.
#[test]
fn the_readmes_lifetime_table_is_the_comparison_of_the_measured_reports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = run_with_deadline({
        let mut cmd = Command::new(crate::util::BIN);
        cmd.current_dir(root).args([
            "check",
            "--compare",
            "checks/linux.json",
            "checks/windows-under-wine.json",
        ]);
        cmd
    });
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8(output.stdout).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let between = |name: &str| {
        let begin = format!("<!-- {name}: begin -->\n");
        let start = readme.find(&begin).expect("the table's begin marker") + begin.len();
        let stop = readme[start..]
            .find(&format!("<!-- {name}: end -->"))
            .expect("its end marker");
        &readme[start..start + stop]
    };
    assert_eq!(
        format!(
            "{}{}",
            between("lifetime-table"),
            between("boundaries-table")
        ),
        table,
        "run scripts/lifetime-table.sh to write the README's tables from checks/"
    );
    assert!(between("boundaries-table").starts_with("#### Limits, measured"));
    assert!(table.contains("Qt's create: fails (\"Unable to create shared memory segment.\")"));
    assert!(table.contains("after the kill, get --qt: says nothing is shared; Qt's create: works"));
}
