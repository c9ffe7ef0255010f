//! The protocol journal, seen from outside: `shmimage trace` shows the steps that other
//! processes took, in order, including where a killed one died, and garbage in the directory
//! changes nothing.

use std::process::Stdio;

use crate::util::{Publisher, Scratch, load, test_image};

/// One step of `trace --json`: (pid, role, step, state).
fn steps_of(json_lines: &str) -> Vec<(u32, String, String, String)> {
    let field = |line: &str, name: &str| -> Option<String> {
        let start = line.find(&format!("\"{name}\":"))? + name.len() + 3;
        let rest = &line[start..];
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.split('"').next()?.to_owned()
        } else {
            rest.split([',', '}']).next()?.to_owned()
        };
        Some(value)
    };
    json_lines
        .lines()
        .filter_map(|line| {
            Some((
                field(line, "pid")?.parse().ok()?,
                field(line, "role")?,
                field(line, "step")?,
                field(line, "state")?,
            ))
        })
        .collect()
}

fn history(scratch: &Scratch) -> String {
    scratch.ok(&["trace", "--json", "--since", "10m", "--stop-after", "200ms"])
}

#[test]
fn the_journal_records_the_steps_of_two_processes_in_order() {
    let scratch = Scratch::new("journal-order");
    let input = scratch.save("in.png", &test_image(30, 20, 1));
    let publisher = scratch.put(&input, &[]);
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    let put_pid = publisher.child.id();
    drop(publisher);

    let steps = steps_of(&history(&scratch));
    let sequence: Vec<(String, String)> = steps
        .iter()
        .map(|(pid, role, step, state)| {
            assert_eq!(state, "ok", "{steps:?}");
            let who = if *pid == put_pid {
                "put"
            } else {
                role.as_str()
            };
            (who.to_owned(), step.clone())
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("put", "create"),
        ("put", "lock"),
        ("put", "copy in"),
        ("put", "unlock"),
        ("get", "attach"),
        ("get", "lock"),
        ("get", "copy out"),
        ("get", "unlock"),
        ("get", "detach"),
    ]
    .iter()
    .map(|(who, step)| ((*who).to_owned(), (*step).to_owned()))
    .collect();
    // The killed put never detached; everything before is in order, put's steps first.
    assert_eq!(&sequence[..expected.len()], &expected[..], "{steps:?}");
}

/// The article's case: a writer killed while idle, holding its segment. `trace` names it with
/// its pid and what it left, and the next writer's removal names whose leftover it was.
#[test]
fn a_writer_killed_while_idle_is_named_with_its_pid() {
    let scratch = Scratch::new("journal-idle-kill");
    let input = scratch.save("in.png", &test_image(32, 32, 3));
    let writer = scratch.put(&input, &[]);
    let pid = writer.child.id();
    writer.kill_hard();
    let text = scratch.ok(&["trace", "--since", "10m", "--stop-after", "200ms"]);
    assert!(
        text.contains(&format!(
            "pid {pid} died without detach; its segment g1 stays until the next writer removes it"
        )),
        "{text}"
    );
    let _next = scratch.put(&input, &[]);
    let text = scratch.ok(&["trace", "--since", "10m", "--stop-after", "200ms"]);
    let removal = text
        .lines()
        .find(|line| line.contains("remove leftover"))
        .unwrap_or_else(|| panic!("no removal in {text}"));
    assert!(
        removal.ends_with(&format!("(pid {pid}'s leftover)")),
        "{removal}"
    );
}

#[test]
fn a_writer_killed_mid_copy_is_reported_as_dying_there() {
    let scratch = Scratch::new("journal-killed");
    let input = scratch.save("in.png", &test_image(64, 64, 2));
    let mut cmd = scratch.cmd(&["put", input.to_str().unwrap()]);
    cmd.env(shmimage::protocol::PAUSE_MID_COPY_ENV, "60000");
    let writer = Publisher::start(cmd, "paused mid-copy");
    let pid = writer.child.id();
    writer.kill_hard();

    let text = scratch.ok(&["trace", "--since", "10m", "--stop-after", "200ms"]);
    assert!(
        text.contains(&format!(
            "pid {pid} died during copy in; the OS freed its lock"
        )),
        "{text}"
    );
    // And the next process carries on: the leftover is removed and recorded as such.
    let out = scratch.path("out.png");
    let err = scratch.fails(&["get", out.to_str().unwrap()]);
    assert!(err.contains("nothing is shared"), "{err}");
    let steps = steps_of(&history(&scratch));
    assert!(
        steps
            .iter()
            .any(|(_, role, step, _)| role == "get" && step == "remove leftover"),
        "{steps:?}"
    );
}

#[test]
fn trace_prints_the_steps_of_a_put_and_a_get_run_by_other_processes() {
    let scratch = Scratch::new("journal-trace");
    let input = scratch.save("in.png", &test_image(16, 16, 3));
    let mut trace = scratch.cmd(&["trace"]);
    trace.stdin(Stdio::null());
    let trace = Publisher::start(trace, "tracing key");

    let publisher = scratch.put(&input, &["--hold-ms", "60000"]);
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(load(&out), test_image(16, 16, 3));
    let put_pid = publisher.child.id();
    let create = trace.wait_for("QSharedMemory::create(size)");
    assert!(create.contains(&format!("pid {put_pid}")), "{create}");
    let detach = trace.wait_for("QSharedMemory::detach()");
    assert!(detach.contains(" get "), "{detach}");
}

#[test]
fn garbage_in_place_of_journals_is_ignored_and_cleaned() {
    let scratch = Scratch::new("journal-garbage");
    let input = scratch.save("in.png", &test_image(12, 9, 4));
    // Make the directory and learn the key's file names from a first run.
    let first = scratch.put(&input, &[]);
    drop(first);
    let journal = std::fs::read_dir(scratch.seg_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.ends_with(".journal"))
        .expect("a journal file");
    let stem = journal.split('~').next().unwrap().to_owned();
    let garbage = [
        (format!("{stem}~n~1~1.journal"), vec![0x5a_u8; 16512]),
        (
            format!("{stem}~n~2~2.journal"),
            b"shmimage-jrnl-01".to_vec(),
        ),
        (format!("{stem}~n~3~3.journal"), {
            let mut bytes = vec![0xff_u8; 16512];
            bytes[..16].copy_from_slice(b"shmimage-jrnl-01");
            bytes
        }),
    ];
    // Not a journal's exact shape (its pid and time are no numbers): not ours, left alone.
    let not_ours = scratch.seg_dir().join(format!("{stem}~n~x~y.journal"));
    for (name, bytes) in &garbage {
        std::fs::write(scratch.seg_dir().join(name), bytes).unwrap();
    }
    std::fs::write(&not_ours, b"").unwrap();
    let _publisher = scratch.put(&input, &[]);
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(load(&out), test_image(12, 9, 4));
    let steps = steps_of(&history(&scratch));
    assert!(
        steps
            .iter()
            .any(|(_, role, step, _)| role == "get" && step == "detach"),
        "{steps:?}"
    );
    scratch.ok(&["clean"]);
    for (name, _) in &garbage {
        assert!(!scratch.seg_dir().join(name).exists(), "{name} was cleaned");
    }
    assert!(
        not_ours.exists(),
        "a name not of a journal's shape is left alone"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn qt_modes_name_their_steps_after_qts_calls_and_objects() {
    let scratch = Scratch::new("journal-qt");
    let input = scratch.save("in.png", &test_image(8, 8, 5));
    for (flag, lock_object) in [("--qt", "System V semaphore"), ("--qt6", "POSIX semaphore")] {
        let publisher = scratch.put(&input, &[flag]);
        let out = scratch.path("out.png");
        scratch.ok(&["get", flag, out.to_str().unwrap()]);
        // Politely, so that nothing of Qt's is left in the system.
        assert!(publisher.terminate().success());
        let text = scratch.ok(&["trace", flag, "--since", "10m", "--stop-after", "200ms"]);
        assert!(
            text.contains("QSharedMemory::lock() → QSystemSemaphore::acquire()"),
            "{text}"
        );
        assert!(text.contains(lock_object), "{flag}: {text}");
    }
}
