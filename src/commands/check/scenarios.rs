//! The rows of the table: each runs one event of the lifetime contract with real processes and
//! says what it observed, `Ok` when that is what the contract expects.

use std::io::Write;
use std::time::Instant;

use image::RgbaImage;

use super::process::Spawned;
use super::{Check, Column, HOLD_MS};
use crate::protocol;
use crate::sentence::{Sentence, sentence};

pub(super) struct Scenario {
    pub(super) column: Column,
    /// Part of the key, so every row has a key of its own.
    pub(super) slug: &'static str,
    pub(super) name: &'static str,
    pub(super) expected: &'static str,
    /// `Ok(observed)` if the contract held, `Err(observed)` if not.
    pub(super) run: fn(&Check, &str) -> Observed,
}

pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        column: Column::Shmimage,
        slug: "exits",
        name: "a writer exits normally",
        expected: "its segment is removed; nothing is shared",
        run: writer_exits,
    },
    Scenario {
        column: Column::Shmimage,
        slug: "killed",
        name: "a writer is killed",
        expected: "its leftover cannot be attached, the next user removes it, the next publish works with no cleanup",
        run: writer_killed,
    },
    Scenario {
        column: Column::Shmimage,
        slug: "midcopy",
        name: "a lock holder is killed mid-copy",
        expected: "the lock is free at once; the previous image is intact",
        run: lock_holder_killed,
    },
    Scenario {
        column: Column::Shmimage,
        slug: "second",
        name: "a second writer publishes",
        expected: "the newest wins; a reader that has the old one attached still reads it unchanged",
        run: second_writer,
    },
    Scenario {
        column: Column::Shmimage,
        slug: "reader",
        name: "a reader is killed while attached",
        expected: "the segment lives while the reader is attached, and is gone once it is killed",
        run: reader_killed,
    },
    Scenario {
        column: Column::Shmimage,
        slug: "damaged",
        name: "a damaged segment",
        expected: "refused with a clear error, never shown",
        run: damaged_segment,
    },
    #[cfg(any(target_os = "linux", target_os = "macos", windows))]
    Scenario {
        column: Column::QtRules,
        slug: "qtexits",
        name: "a writer exits normally",
        expected: "Qt's detach removes the segment; Qt can create again",
        run: qt_writer_exits,
    },
    #[cfg(any(target_os = "linux", target_os = "macos", windows))]
    Scenario {
        column: Column::QtRules,
        slug: "qtkilled",
        name: "a writer is killed",
        expected: if cfg!(windows) {
            "Windows frees the killed writer's mapping: nothing is shared, and Qt's next create works"
        } else {
            "Qt's segment stays with attach count 0 and Qt's next create fails (the article's complaint)"
        },
        run: qt_writer_killed,
    },
    #[cfg(any(target_os = "linux", target_os = "macos", windows))]
    Scenario {
        column: Column::QtRules,
        slug: "qtsecond",
        name: "a second writer publishes",
        expected: "Qt's create fails while the first writer is attached",
        run: qt_second_writer,
    },
    #[cfg(any(target_os = "linux", target_os = "macos", windows))]
    Scenario {
        column: Column::QtRules,
        slug: "qtholder",
        name: "a lock holder is killed",
        expected: if cfg!(windows) {
            "the semaphore stays taken while any program has it open: Qt's next lock waits forever, shmimage --qt gives up and says how to clear it, and works once it is closed"
        } else {
            "System V's undo gives the semaphore back: the next lock works at once"
        },
        run: qt_lock_holder_killed,
    },
];

/// What a row saw: `Ok` when the contract held (or the row measures and did), `Err` if not.
pub(super) type Observed = Result<Sentence, Sentence>;

pub(super) fn expect(condition: bool, observed: Sentence) -> Observed {
    if condition {
        Ok(observed)
    } else {
        Err(observed)
    }
}

fn writer_exits(check: &Check, key: &str) -> Observed {
    check.put(key, "first.png", &["--hold-ms", "300"])?.wait()?;
    let segments = check.segments(key);
    let got = check.get(key, &[]);
    let nothing = matches!(&got, Err(err) if err.contains("nothing is shared"));
    expect(
        segments.is_empty() && nothing,
        sentence!(
            "%{count} segment file(s) left after it exited; get: %{got}",
            count = segments.len(),
            got = describe(&got)
        ),
    )
}

pub(super) fn writer_killed(check: &Check, key: &str) -> Observed {
    check.put(key, "first.png", &[])?.kill()?;
    check.wait_until_released(key);
    let left = check.segments(key).len();
    let got = check.get(key, &[]);
    let nothing = matches!(&got, Err(err) if err.contains("nothing is shared"));
    let after_get = check.segments(key).len();
    let next = check.put(key, "second.png", &[]);
    let observed = sentence!(
        "%{left} leftover after the kill; get: %{got}; %{after_get} left after that get; next publish: %{next}",
        left = left,
        got = describe(&got),
        after_get = after_get,
        next = works_or_failed(next.is_ok())
    );
    expect(
        left == 1 && nothing && after_get == 0 && next.is_ok(),
        observed,
    )
}

fn lock_holder_killed(check: &Check, key: &str) -> Observed {
    lock_holder_killed_seen(check, key)?.1
}

/// What the next reader got once a lock holder was killed mid-copy (lesson 5's answers).
pub(super) enum NextRead {
    /// The previous image, intact.
    Intact,
    /// A refusal that says the segment is damaged.
    Damaged,
    /// Anything else: an error, a timeout, another image.
    Not,
}

impl NextRead {
    /// Which of lesson 5's answers this is.
    pub(super) fn answer(&self) -> usize {
        match self {
            Self::Intact => 0,
            Self::Not => 1,
            Self::Damaged => 2,
        }
    }
}

pub(super) fn lock_holder_killed_seen(
    check: &Check,
    key: &str,
) -> Result<(NextRead, Observed), Sentence> {
    let _first = check.put(key, "first.png", &[])?;
    kill_while_holding(
        check,
        key,
        &["put", &check.image("second.png"), "--until-stdin-closes"],
    )?;
    let started = Instant::now();
    let got = check.get(key, &[]);
    let waited = started.elapsed();
    let next = match &got {
        Ok(image) if *image == check.first => NextRead::Intact,
        Err(err) if err.contains("damaged") => NextRead::Damaged,
        _ => NextRead::Not,
    };
    let intact = matches!(next, NextRead::Intact);
    let observed = expect(
        intact,
        sentence!(
            "after the holder was killed, get took %{ms} ms and read %{read}",
            ms = waited.as_millis(),
            read = if intact {
                sentence!("the previous image, intact")
            } else {
                describe(&got)
            }
        ),
    );
    Ok((next, observed))
}

/// Runs `shmimage ARGS`, which pauses halfway through its copy holding the lock, and kills it
/// there.
fn kill_while_holding(check: &Check, key: &str, args: &[&str]) -> Result<(), String> {
    let mut holder = check.command(key, args);
    holder.env(protocol::PAUSE_MID_COPY_ENV, "60000");
    Spawned::start(holder, "paused mid-copy")?.kill()
}

/// A `get --qt` killed after its copy, before its unlock: it dies holding Qt's semaphore.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn kill_qt_reader_holding_the_lock(check: &Check, key: &str) -> Result<(), String> {
    let out = check.work.join(format!("{key}-holder.png"));
    kill_while_holding(
        check,
        key,
        &["get", out.to_str().unwrap_or_default(), "--qt"],
    )
}

fn second_writer(check: &Check, key: &str) -> Observed {
    let _first = check.put(key, "first.png", &[])?;
    let mut reader = check.start(key, &["check-reader"], "attached")?;
    let before = crc_in(&reader.ready_line)?;
    let _second = check.put(key, "second.png", &[])?;
    let newest = check.get(key, &[]);
    let newest_wins = matches!(&newest, Ok(image) if *image == check.second);
    let after = ask_reader(&mut reader)?;
    expect(
        newest_wins && before == after,
        sentence!(
            "a new get read %{newest}; the attached reader's copy %{copy} (crc %{before}, then %{after})",
            newest = if newest_wins {
                sentence!("the newest image")
            } else {
                describe(&newest)
            },
            copy = if before == after {
                sentence!("is unchanged")
            } else {
                sentence!("changed")
            },
            before = format!("{before:08x}"),
            after = format!("{after:08x}")
        ),
    )
}

fn reader_killed(check: &Check, key: &str) -> Observed {
    let writer = check.put(key, "first.png", &["--hold-ms", "500"])?;
    let reader = check.start(key, &["check-reader"], "attached")?;
    writer.wait()?;
    let while_attached = check.get(key, &[]);
    let lives = matches!(&while_attached, Ok(image) if *image == check.first);
    reader.kill()?;
    check.wait_until_released(key);
    let after = check.get(key, &[]);
    let gone = matches!(&after, Err(err) if err.contains("nothing is shared"));
    expect(
        lives && gone,
        sentence!(
            "writer gone, reader attached: get %{while_attached}; reader killed: get %{after}",
            while_attached = if lives {
                sentence!("read the image")
            } else {
                sentence!("failed")
            },
            after = describe(&after)
        ),
    )
}

fn damaged_segment(check: &Check, key: &str) -> Observed {
    // A writer with a bug: it damages its own segment after committing it. (Nobody else can:
    // the file is private, and on Windows locked and mapped by its writer.)
    let mut writer = check.command(
        key,
        &[
            "put",
            &check.image("first.png"),
            "--until-stdin-closes",
            "--hold-ms",
            HOLD_MS,
        ],
    );
    writer.env(protocol::DAMAGE_AFTER_PUBLISH_ENV, "1");
    let _writer = Spawned::start(writer, "ready")?;
    let got = check.get(key, &[]);
    let refused = matches!(&got, Err(err) if err.contains("damaged"));
    expect(refused, sentence!("get: %{got}", got = describe(&got)))
}

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn qt_writer_exits(check: &Check, key: &str) -> Observed {
    check
        .put(key, "first.png", &["--qt", "--hold-ms", "300"])?
        .wait()?;
    let create = qt_create_now(check, key);
    expect(
        create.is_ok(),
        sentence!(
            "after the writer's detach, Qt's create: %{create}",
            create = qt_create(&create)
        ),
    )
}

/// The article's row. On Linux the segment outlives its killed writer; on Windows the kernel
/// frees it, some time after `TerminateProcess` returns.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn qt_writer_killed(check: &Check, key: &str) -> Observed {
    qt_create_after_a_kill(check, key)?.observed
}

/// What Qt's next create did once its writer was killed, and the row's observation of it.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
pub(super) struct QtCreateAfterAKill {
    pub(super) created: bool,
    pub(super) observed: Observed,
}

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
pub(super) fn qt_create_after_a_kill(
    check: &Check,
    key: &str,
) -> Result<QtCreateAfterAKill, Sentence> {
    check.put(key, "first.png", &["--qt"])?.kill()?;
    let mut create = qt_create_now(check, key);
    let deadline = Instant::now() + super::RELEASE_WITHIN;
    while cfg!(windows) && create.is_err() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        create = qt_create_now(check, key);
    }
    let created = create.is_ok();
    if cfg!(windows) {
        let got = check.get(key, &["--qt"]);
        let nothing = matches!(&got, Err(err) if err.contains("nothing is shared"));
        let observed = expect(
            created && nothing,
            sentence!(
                "after the kill, get --qt: %{got}; Qt's create: %{create}",
                got = describe(&got),
                create = qt_create(&create)
            ),
        );
        return Ok(QtCreateAfterAKill { created, observed });
    }
    // shmimage's Qt mode removes such a leftover; a writer also takes over the semaphore the
    // killed one left, and removes both when it stops.
    let cleaned = check
        .put(key, "second.png", &["--qt", "--hold-ms", "0"])
        .and_then(Spawned::wait);
    let observed = expect(
        !created,
        sentence!(
            "after the kill, Qt's create: %{create}; shmimage --qt then %{cleaned}",
            create = qt_create(&create),
            cleaned = if cleaned.is_ok() {
                sentence!("removed the leftover")
            } else {
                sentence!("could not remove the leftover")
            }
        ),
    );
    Ok(QtCreateAfterAKill { created, observed })
}

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn qt_second_writer(check: &Check, key: &str) -> Observed {
    let first = check.put(key, "first.png", &["--qt"])?;
    let create = qt_create_now(check, key);
    let replaced = check.put(key, "second.png", &["--qt", "--hold-ms", "0"]);
    drop(first);
    let _ = check
        .put(key, "first.png", &["--qt", "--hold-ms", "0"])
        .and_then(Spawned::wait);
    expect(
        create.is_err(),
        sentence!(
            "while the first writer is attached, Qt's create: %{create}; shmimage --qt %{replaced}",
            create = qt_create(&create),
            replaced = if replaced.is_ok() {
                sentence!("replaced the image")
            } else {
                sentence!("failed too")
            }
        ),
    )
}

/// A reader killed while it holds Qt's lock (after its copy, before its unlock): Qt's System V
/// semaphore has `SEM_UNDO`, so the kernel gives it back.
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub(super) fn qt_lock_holder_killed(check: &Check, key: &str) -> Observed {
    let _writer = check.put(key, "first.png", &["--qt"])?;
    kill_qt_reader_holding_the_lock(check, key)?;
    let started = Instant::now();
    let next = check.get_with(key, &["--qt"], &[(protocol::LOCK_TIMEOUT_ENV, "1000")]);
    let waited = started.elapsed();
    let read = matches!(&next, Ok(image) if *image == check.first);
    expect(
        read,
        sentence!(
            "after the holder was killed, get --qt took %{ms} ms and read %{read}",
            ms = waited.as_millis(),
            read = if read {
                sentence!("the image")
            } else {
                describe(&next)
            }
        ),
    )
}

/// Windows' semaphore has no undo: a reader killed while it holds Qt's lock leaves it taken for
/// as long as any program has it open, as Qt's example keeps it after a load (the check plays
/// that program).
#[cfg(windows)]
pub(super) fn qt_lock_holder_killed(check: &Check, key: &str) -> Observed {
    const GIVE_UP_MS: &str = "1000";
    let _writer = check.put(key, "first.png", &["--qt"])?;
    let kept = super::process::in_process(|| {
        protocol::qt_rules::keep_qt5_semaphore_open(&check.endpoint(key))
    })
    .map_err(|e| e.to_string())?;
    kill_qt_reader_holding_the_lock(check, key)?;
    let qt_blocked = !kept
        .lock_within(std::time::Duration::from_secs(1))
        .map_err(|e| e.to_string())?;
    let patient = [(protocol::LOCK_TIMEOUT_ENV, GIVE_UP_MS)];
    let ours = check.get_with(key, &["--qt"], &patient);
    let explained = matches!(&ours, Err(err) if err.contains("no undo"));
    drop(kept);
    let deadline = Instant::now() + super::RELEASE_WITHIN;
    let mut after = check.get_with(key, &["--qt"], &patient);
    while after.is_err() && Instant::now() < deadline {
        after = check.get_with(key, &["--qt"], &patient);
    }
    let recovered = matches!(&after, Ok(image) if *image == check.first);
    expect(
        qt_blocked && explained && recovered,
        sentence!(
            "Qt's next lock: %{qt}; get --qt: %{ours}; once no program had it open, get --qt: %{after}",
            qt = if qt_blocked {
                sentence!("still taken after 1 s (Qt waits forever)")
            } else {
                sentence!("taken at once")
            },
            ours = describe(&ours),
            after = describe(&after)
        ),
    )
}

/// Qt 5's own `create`, made by the check itself (see `process::in_process`).
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn qt_create_now(check: &Check, key: &str) -> Result<(), protocol::ShareError> {
    super::process::in_process(|| {
        protocol::qt_rules::create_as_qt5_does(&check.endpoint(key), 4096)
    })
}

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn qt_create(result: &Result<(), protocol::ShareError>) -> Sentence {
    match result {
        Ok(()) => sentence!("works"),
        Err(err) if err.is_already_exists() => {
            sentence!("fails (\"Unable to create shared memory segment.\")")
        }
        Err(err) => sentence!("fails: %{error}", error = err.to_string()),
    }
}

fn works_or_failed(worked: bool) -> Sentence {
    if worked {
        sentence!("works")
    } else {
        sentence!("failed")
    }
}

fn describe(result: &Result<RgbaImage, String>) -> Sentence {
    match result {
        Ok(image) => sentence!(
            "an image of %{width}x%{height}",
            width = image.width(),
            height = image.height()
        ),
        Err(err) => sentence!("says %{error}", error = err),
    }
}

/// The crc at the end of a reader's line ("attached CRC", "read CRC").
fn crc_in(line: &str) -> Result<u32, String> {
    line.rsplit(' ')
        .next()
        .and_then(|crc| u32::from_str_radix(crc, 16).ok())
        .ok_or_else(|| format!("the reader said {line:?}"))
}

/// Asks the attached reader to copy its segment out again.
fn ask_reader(reader: &mut Spawned) -> Result<u32, String> {
    let stdin = reader
        .child
        .stdin
        .as_mut()
        .ok_or("the reader has no stdin")?;
    writeln!(stdin, "read").map_err(|err| err.to_string())?;
    crc_in(&reader.wait_for("read")?)
}
