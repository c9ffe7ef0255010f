//! `shmimage check`: the README's lifetime table, measured on the machine in front of you. Each
//! row runs with real processes (copies of this program), on the segment directory users get,
//! under keys of its own, and says what the contract expects, what was observed, and whether
//! they agree. On Linux a second column runs the same events under Qt 5's own rules.
//!
//! Every child is started with a bounded hold, so none outlives an interrupted check for long,
//! and the keys a run uses are written down first, so the next run removes whatever an
//! interrupted one left.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use image::RgbaImage;

use crate::codec;
use crate::share::{self, Endpoint, SegmentDir, ShareError};

/// How long any one step may take before the row fails (never a hang).
const STEP: Duration = Duration::from_secs(20);
/// Every `put` the check starts stops sharing by itself after this, so an interrupted check
/// leaves no publisher running for long.
const HOLD_MS: &str = "20000";
/// The prefix of every key (and work folder) a check uses.
const PREFIX: &str = "shmimage-check";
/// The file in a run's work folder that the run keeps locked while it lives.
const ALIVE: &str = "alive";

/// What Ctrl-C must not leave behind: the children running now, and this run's directory and
/// work folder. Once `interrupted`, no new child is started.
#[derive(Clone, Default)]
struct Running {
    children: Vec<u32>,
    run: Option<(SegmentDir, PathBuf)>,
    interrupted: bool,
}

static RUNNING: std::sync::Mutex<Running> = std::sync::Mutex::new(Running {
    children: Vec::new(),
    run: None,
    interrupted: false,
});

/// Starts a child and registers it, under the same lock `interrupt` takes: so the handler
/// either sees the child (and kills it) or the child is never started.
fn spawn_registered(command: &mut Command) -> Result<Child, String> {
    let mut running = running();
    if running.interrupted {
        return Err("the check was interrupted".to_owned());
    }
    let child = command
        .spawn()
        .map_err(|err| format!("cannot start shmimage: {err}"))?;
    running.children.push(child.id());
    Ok(child)
}

fn unregister(pid: u32) {
    running().children.retain(|p| *p != pid);
}

/// For a Ctrl-C or SIGTERM handler: ends this run's children, removes what the run made, and
/// exits with `code`.
pub fn interrupt(code: i32) -> ! {
    let running = {
        let mut running = running();
        running.interrupted = true;
        running.clone()
    };
    for pid in running.children {
        kill_pid(pid);
    }
    if let Some((dir, work)) = running.run {
        // A killed child holds its segment's lock until it has really exited, and until then
        // its segment is live, not a leftover: clean again until nothing of ours is left.
        let deadline = Instant::now() + Duration::from_secs(3);
        while !clean_keys(&dir, &work) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&work);
    }
    std::process::exit(code)
}

fn running() -> std::sync::MutexGuard<'static, Running> {
    RUNNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(unix)]
fn kill_pid(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

#[cfg(windows)]
fn kill_pid(pid: u32) {
    let _ = Command::new("taskkill")
        .args(["/F", "/PID", &pid.to_string()])
        .status();
}

/// What a check can fail with before it gets to run its rows.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error("cannot prepare the check in {path}: {source}", path = path.display())]
    Prepare {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Which rules a row was run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// This program's own segments: the contract in the README.
    Shmimage,
    /// Qt 5's rules on Linux, run live with the same events (System V, as Qt's example).
    QtRules,
}

impl Column {
    pub fn name(self) -> &'static str {
        match self {
            Self::Shmimage => "shmimage",
            Self::QtRules => "Qt 5 rules",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub column: Column,
    pub scenario: &'static str,
    pub expected: &'static str,
    pub observed: String,
    pub passed: bool,
    pub took: Duration,
}

/// The machine the check ran on, for a QA ticket.
#[derive(Debug, Clone)]
pub struct About {
    pub os: String,
    pub arch: &'static str,
    pub dir: PathBuf,
    pub filesystem: String,
    pub version: &'static str,
    pub date: String,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub about: About,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.rows.iter().all(|row| row.passed)
    }
}

/// How many rows [`run`] runs on this OS.
pub fn row_count() -> usize {
    SCENARIOS.len()
}

/// Runs every row with `program` (the shmimage binary) as the processes, calling `progress`
/// after each, and removes what it made.
pub fn run(
    dir: &SegmentDir,
    program: &Path,
    mut progress: impl FnMut(&Row),
) -> Result<Report, CheckError> {
    let check = Check::prepare(dir, program)?;
    let mut rows = Vec::new();
    for scenario in SCENARIOS {
        let started = Instant::now();
        let outcome = (scenario.run)(&check, &check.key(scenario.slug));
        let (observed, passed) = match outcome {
            Ok(observed) => (observed, true),
            Err(observed) => (observed, false),
        };
        // What the row's killed processes left goes now, so a check killed later leaves only
        // the row it was in.
        clean_dir(dir);
        let row = Row {
            column: scenario.column,
            scenario: scenario.name,
            expected: scenario.expected,
            observed,
            passed,
            took: started.elapsed(),
        };
        progress(&row);
        rows.push(row);
    }
    check.finish();
    Ok(Report {
        about: About::of(dir),
        rows,
    })
}

struct Scenario {
    column: Column,
    /// Part of the key, so every row has a key of its own.
    slug: &'static str,
    name: &'static str,
    expected: &'static str,
    /// `Ok(observed)` if the contract held, `Err(observed)` if not.
    run: fn(&Check, &str) -> Result<String, String>,
}

const SCENARIOS: &[Scenario] = &[
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
    #[cfg(target_os = "linux")]
    Scenario {
        column: Column::QtRules,
        slug: "qtexits",
        name: "a writer exits normally",
        expected: "Qt's detach removes the segment; Qt can create again",
        run: qt_writer_exits,
    },
    #[cfg(target_os = "linux")]
    Scenario {
        column: Column::QtRules,
        slug: "qtkilled",
        name: "a writer is killed",
        expected: "Qt's segment stays with attach count 0 and Qt's next create fails (the article's complaint)",
        run: qt_writer_killed,
    },
    #[cfg(target_os = "linux")]
    Scenario {
        column: Column::QtRules,
        slug: "qtsecond",
        name: "a second writer publishes",
        expected: "Qt's create fails while the first writer is attached",
        run: qt_second_writer,
    },
];

/// The run's keys, its work folder (test images, the list of keys), and how to start children.
struct Check {
    dir: SegmentDir,
    work: PathBuf,
    /// Locked for as long as this run lives (the OS lets go when it dies, however it dies):
    /// how another run tells a live run's folder from an interrupted one's, without PIDs.
    alive: std::fs::File,
    exe: PathBuf,
    first: RgbaImage,
    second: RgbaImage,
}

impl Check {
    fn prepare(dir: &SegmentDir, program: &Path) -> Result<Self, CheckError> {
        let temp = std::env::temp_dir();
        clean_after_interrupted_runs(dir, &temp);
        let work = temp.join(format!("{PREFIX}-{}", std::process::id()));
        let failed_in = work.clone();
        let prepare = move |source| CheckError::Prepare {
            path: failed_in.clone(),
            source,
        };
        std::fs::create_dir_all(&work).map_err(&prepare)?;
        let alive = std::fs::File::create(work.join(ALIVE)).map_err(&prepare)?;
        alive.lock().map_err(&prepare)?;
        let check = Self {
            dir: dir.clone(),
            alive,
            work,
            exe: program.to_path_buf(),
            first: pattern(48, 32, 1),
            second: pattern(40, 24, 2),
        };
        // Written first, so that a run killed halfway is cleaned up by the next one.
        let keys: String = SCENARIOS
            .iter()
            .map(|s| format!("{}\n", check.key(s.slug)))
            .collect();
        std::fs::write(check.work.join("keys"), keys).map_err(&prepare)?;
        running().run = Some((check.dir.clone(), check.work.clone()));
        for (name, image) in [("first.png", &check.first), ("second.png", &check.second)] {
            codec::save_image(image, &check.work.join(name)).map_err(ShareError::from)?;
        }
        Ok(check)
    }

    fn key(&self, slug: &str) -> String {
        format!("{PREFIX}-{}-{slug}", std::process::id())
    }

    fn image(&self, name: &str) -> String {
        self.work.join(name).display().to_string()
    }

    /// `shmimage ARGS --key KEY` in this check's directory, with none of the test hooks the
    /// check itself may have been given, except the leftover switch (so a test can break it).
    fn command(&self, key: &str, args: &[&str]) -> Command {
        let mut command = Command::new(&self.exe);
        command
            .args(args)
            .args(["--key", key])
            .env(share::DIR_ENV, self.dir.path())
            .env_remove(share::PAUSE_MID_COPY_ENV)
            .env_remove(share::PAUSE_AFTER_CREATE_ENV)
            .env_remove(share::LOCK_TIMEOUT_ENV)
            .env_remove(share::DAMAGE_AFTER_PUBLISH_ENV)
            .env("RUST_LOG", "warn");
        command
    }

    fn start(&self, key: &str, args: &[&str], marker: &str) -> Result<Spawned, String> {
        Spawned::start(self.command(key, args), marker)
    }

    /// Publishes `image` (first.png or second.png) and keeps it shared until killed or the hold
    /// (in milliseconds; [`HOLD_MS`] unless the row wants a shorter one) runs out.
    fn put(&self, key: &str, image: &str, extra: &[&str]) -> Result<Spawned, String> {
        let path = self.image(image);
        // Ends with this check however it ends: its stdin is a pipe from us.
        let mut args = vec!["put", path.as_str(), "--until-stdin-closes"];
        if !extra.contains(&"--hold-ms") {
            args.extend(["--hold-ms", HOLD_MS]);
        }
        args.extend_from_slice(extra);
        self.start(key, &args, "ready")
    }

    /// `get`: the image, or the error line.
    fn get(&self, key: &str, extra: &[&str]) -> Result<RgbaImage, String> {
        let out = self.work.join(format!("{key}.png"));
        let mut args = vec!["get", out.to_str().unwrap_or_default()];
        args.extend_from_slice(extra);
        let output = run_bounded(self.command(key, &args))?;
        if !output.status.success() {
            return Err(first_line(&output.stderr));
        }
        let image = codec::decode_file(&out)
            .map_err(|err| err.to_string())?
            .image;
        let _ = std::fs::remove_file(out);
        Ok(image)
    }

    #[cfg(target_os = "linux")]
    fn endpoint(&self, key: &str) -> Endpoint {
        Endpoint::in_dir(key, self.dir.clone())
    }

    /// The key's files in the segment directory (segments, lock and state).
    fn files(&self, key: &str) -> Vec<String> {
        let Ok(native) = share::native_key_for(key) else {
            return Vec::new();
        };
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|name| name.starts_with(&format!("{native}.")))
            .collect();
        names.sort();
        names
    }

    fn segments(&self, key: &str) -> Vec<String> {
        self.files(key)
            .into_iter()
            .filter(|name| name.ends_with(".seg"))
            .collect()
    }

    /// Removes what the run made: leftovers and idle lock files in the directory (of dead
    /// processes only, so a running demo is never touched), Qt objects, the work folder.
    fn finish(self) {
        let _ = clean_keys(&self.dir, &self.work);
        // Closed first: Windows cannot delete a file that is open.
        drop(self.alive);
        let _ = std::fs::remove_dir_all(&self.work);
        running().run = None;
    }
}

/// A running child whose output lines arrive on a channel, killed when dropped. Its stdin is a
/// pipe: the attached reader takes requests there, and ends when it closes.
struct Spawned {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The line that contained the marker `start` waited for.
    ready_line: String,
}

impl Spawned {
    /// Starts `command` and waits until a line contains `marker`.
    fn start(mut command: Command, marker: &str) -> Result<Self, String> {
        let mut child = spawn_registered(
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let (sender, lines) = mpsc::channel();
        let streams: [Option<Box<dyn std::io::Read + Send>>; 2] = [
            child.stdout.take().map(|s| Box::new(s) as _),
            child.stderr.take().map(|s| Box::new(s) as _),
        ];
        for stream in streams.into_iter().flatten() {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut spawned = Self {
            child,
            lines,
            ready_line: String::new(),
        };
        spawned.ready_line = spawned.wait_for(marker)?;
        Ok(spawned)
    }

    fn wait_for(&mut self, marker: &str) -> Result<String, String> {
        let deadline = Instant::now() + STEP;
        let mut seen = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(marker) {
                return Ok(line);
            }
            seen.push(line);
        }
        Err(format!(
            "no \"{marker}\" from pid {} ({})",
            self.child.id(),
            seen.last().map_or("no output", String::as_str)
        ))
    }

    /// SIGKILL / TerminateProcess: no chance to clean up.
    fn kill(mut self) -> Result<(), String> {
        self.child
            .kill()
            .and_then(|()| self.child.wait())
            .map(drop)
            .map_err(|err| format!("cannot kill pid {}: {err}", self.child.id()))
    }

    /// Waits for the child to exit by itself.
    fn wait(mut self) -> Result<(), String> {
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("pid {} ended with {status}", self.child.id()))
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("pid {} did not end", self.child.id()))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        unregister(self.child.id());
    }
}

/// Runs a command to the end, at most [`STEP`] (then it is killed, and that is the error).
fn run_bounded(mut command: Command) -> Result<std::process::Output, String> {
    let mut child = spawn_registered(command.stdout(Stdio::piped()).stderr(Stdio::piped()))?;
    let collect = |stream: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = collect(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = collect(child.stderr.take().map(|s| Box::new(s) as _));
    let deadline = Instant::now() + STEP;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                unregister(child.id());
                return Err(format!("pid {} did not finish within {STEP:?}", child.id()));
            }
        }
    };
    unregister(child.id());
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("(no output)")
        .trim_start_matches("error: ")
        .to_owned()
}

fn pattern(width: u32, height: u32, seed: u8) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([
            (x * 5) as u8 ^ seed,
            (y * 7) as u8,
            seed.wrapping_mul(40),
            255,
        ])
    })
}

fn expect(condition: bool, observed: String) -> Result<String, String> {
    if condition {
        Ok(observed)
    } else {
        Err(observed)
    }
}

fn writer_exits(check: &Check, key: &str) -> Result<String, String> {
    check.put(key, "first.png", &["--hold-ms", "300"])?.wait()?;
    let segments = check.segments(key);
    let got = check.get(key, &[]);
    let nothing = matches!(&got, Err(err) if err.contains("nothing is shared"));
    expect(
        segments.is_empty() && nothing,
        format!(
            "{} segment file(s) left after it exited; get: {}",
            segments.len(),
            describe(&got)
        ),
    )
}

fn writer_killed(check: &Check, key: &str) -> Result<String, String> {
    check.put(key, "first.png", &[])?.kill()?;
    let left = check.segments(key).len();
    let got = check.get(key, &[]);
    let nothing = matches!(&got, Err(err) if err.contains("nothing is shared"));
    let after_get = check.segments(key).len();
    let next = check.put(key, "second.png", &[]);
    let observed = format!(
        "{left} leftover after the kill; get: {}; {after_get} left after that get; next publish: {}",
        describe(&got),
        if next.is_ok() { "works" } else { "failed" }
    );
    expect(
        left == 1 && nothing && after_get == 0 && next.is_ok(),
        observed,
    )
}

fn lock_holder_killed(check: &Check, key: &str) -> Result<String, String> {
    let _first = check.put(key, "first.png", &[])?;
    let mut holder = check.command(
        key,
        &["put", &check.image("second.png"), "--until-stdin-closes"],
    );
    holder.env(share::PAUSE_MID_COPY_ENV, "60000");
    let holder = Spawned::start(holder, "paused mid-copy")?;
    holder.kill()?;
    let started = Instant::now();
    let got = check.get(key, &[]);
    let waited = started.elapsed();
    let intact = matches!(&got, Ok(image) if *image == check.first);
    expect(
        intact,
        format!(
            "after the holder was killed, get took {} ms and read {}",
            waited.as_millis(),
            if intact {
                "the previous image, intact".to_owned()
            } else {
                describe(&got)
            }
        ),
    )
}

fn second_writer(check: &Check, key: &str) -> Result<String, String> {
    let _first = check.put(key, "first.png", &[])?;
    let mut reader = check.start(key, &["check-reader"], "attached")?;
    let before = crc_in(&reader.ready_line)?;
    let _second = check.put(key, "second.png", &[])?;
    let newest = check.get(key, &[]);
    let newest_wins = matches!(&newest, Ok(image) if *image == check.second);
    let after = ask_reader(&mut reader)?;
    expect(
        newest_wins && before == after,
        format!(
            "a new get read {}; the attached reader's copy {} (crc {before:08x}, then {after:08x})",
            if newest_wins {
                "the newest image".to_owned()
            } else {
                describe(&newest)
            },
            if before == after {
                "is unchanged"
            } else {
                "changed"
            }
        ),
    )
}

fn reader_killed(check: &Check, key: &str) -> Result<String, String> {
    let writer = check.put(key, "first.png", &["--hold-ms", "500"])?;
    let reader = check.start(key, &["check-reader"], "attached")?;
    writer.wait()?;
    let while_attached = check.get(key, &[]);
    let lives = matches!(&while_attached, Ok(image) if *image == check.first);
    reader.kill()?;
    let after = check.get(key, &[]);
    let gone = matches!(&after, Err(err) if err.contains("nothing is shared"));
    expect(
        lives && gone,
        format!(
            "writer gone, reader attached: get {}; reader killed: get {}",
            if lives { "read the image" } else { "failed" },
            describe(&after)
        ),
    )
}

fn damaged_segment(check: &Check, key: &str) -> Result<String, String> {
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
    writer.env(share::DAMAGE_AFTER_PUBLISH_ENV, "1");
    let _writer = Spawned::start(writer, "ready")?;
    let got = check.get(key, &[]);
    let refused = matches!(&got, Err(err) if err.contains("damaged"));
    expect(refused, format!("get: {}", describe(&got)))
}

#[cfg(target_os = "linux")]
fn qt_writer_exits(check: &Check, key: &str) -> Result<String, String> {
    check
        .put(key, "first.png", &["--qt", "--hold-ms", "300"])?
        .wait()?;
    let create = share::create_as_qt5_does(&check.endpoint(key), 4096);
    expect(
        create.is_ok(),
        format!(
            "after the writer's detach, Qt's create: {}",
            qt_create(&create)
        ),
    )
}

#[cfg(target_os = "linux")]
fn qt_writer_killed(check: &Check, key: &str) -> Result<String, String> {
    check.put(key, "first.png", &["--qt"])?.kill()?;
    let create = share::create_as_qt5_does(&check.endpoint(key), 4096);
    let stuck = create.is_err();
    // shmimage's Qt mode removes such a leftover; a writer also takes over the semaphore the
    // killed one left, and removes both when it stops.
    let cleaned = check
        .put(key, "second.png", &["--qt", "--hold-ms", "0"])
        .and_then(Spawned::wait);
    expect(
        stuck,
        format!(
            "after the kill, Qt's create: {}; shmimage --qt then {}",
            qt_create(&create),
            if cleaned.is_ok() {
                "removed the leftover"
            } else {
                "could not remove the leftover"
            }
        ),
    )
}

#[cfg(target_os = "linux")]
fn qt_second_writer(check: &Check, key: &str) -> Result<String, String> {
    let first = check.put(key, "first.png", &["--qt"])?;
    let create = share::create_as_qt5_does(&check.endpoint(key), 4096);
    let replaced = check.put(key, "second.png", &["--qt", "--hold-ms", "0"]);
    drop(first);
    let _ = check
        .put(key, "first.png", &["--qt", "--hold-ms", "0"])
        .and_then(Spawned::wait);
    expect(
        create.is_err(),
        format!(
            "while the first writer is attached, Qt's create: {}; shmimage --qt {}",
            qt_create(&create),
            if replaced.is_ok() {
                "replaced the image"
            } else {
                "failed too"
            }
        ),
    )
}

#[cfg(target_os = "linux")]
fn qt_create(result: &Result<(), ShareError>) -> String {
    match result {
        Ok(()) => "works".to_owned(),
        Err(ShareError::Shm(crate::shm::ShmError::AlreadyExists { .. })) => {
            "fails (\"Unable to create shared memory segment.\")".to_owned()
        }
        Err(err) => format!("fails: {err}"),
    }
}

fn describe(result: &Result<RgbaImage, String>) -> String {
    match result {
        Ok(image) => format!("an image of {}x{}", image.width(), image.height()),
        Err(err) => format!("says {err}"),
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

/// The hidden `check-reader` command: attaches, prints "attached CRC", then prints "read CRC"
/// for every line on stdin, and detaches when stdin closes (or after the hold).
pub fn hold_attached(endpoint: &Endpoint, out: &mut dyn Write) -> Result<(), ShareError> {
    let mut reader = endpoint.protocol()?.attach()?;
    let crc = |bytes: Vec<u8>| format!("{:08x}", crc32fast::hash(&bytes));
    writeln!(out, "attached {}", crc(reader.copy_out()?)).ok();
    out.flush().ok();
    for line in std::io::stdin().lines().map_while(Result::ok) {
        if line.trim() == "read" {
            writeln!(out, "read {}", crc(reader.copy_out()?)).ok();
            out.flush().ok();
        }
    }
    Ok(())
}

/// Removes dead processes' leftovers and idle lock files (never a live segment).
fn clean_dir(dir: &SegmentDir) {
    if let Err(err) = share::clean(dir) {
        log::warn!("cleaning {}: {err}", dir.path().display());
    }
}

/// Removes what runs killed halfway left: their work folders name their keys.
fn clean_after_interrupted_runs(dir: &SegmentDir, temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&format!("{PREFIX}-")))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !run_alive(&entry.path()) {
            let _ = clean_keys(dir, &entry.path());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes the leftovers of the keys listed in `work/keys`: in the directory, what dead
/// processes left (a live segment is never touched); on Linux, Qt objects of those keys.
/// Returns whether none of those keys has a file left in the directory.
fn clean_keys(dir: &SegmentDir, work: &Path) -> bool {
    clean_dir(dir);
    let keys = std::fs::read_to_string(work.join("keys")).unwrap_or_default();
    #[cfg(target_os = "linux")]
    for key in keys.lines().filter(|k| k.contains("-qt")) {
        // A Qt-mode writer that stops at once removes any leftover segment and semaphore.
        let endpoint = Endpoint::in_dir(key, dir.clone()).with_mode(share::Mode::Qt);
        if let Ok(publication) = share::publish(&endpoint, &pattern(1, 1, 0), codec::Encoding::Png)
        {
            publication.withdraw();
        }
    }
    let prefixes: Vec<String> = keys
        .lines()
        .filter_map(|key| share::native_key_for(key).ok())
        .map(|native| format!("{native}."))
        .collect();
    // `clean` leaves lock files on Windows, where a file someone has open cannot simply be
    // deleted; these keys are this run's alone, so once a key has no segment left, its lock and
    // state files go too.
    #[cfg(windows)]
    remove_idle_lock_files(dir, &prefixes);
    !std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            prefixes
                .iter()
                .any(|prefix| name.starts_with(prefix.as_str()))
        })
}

#[cfg(windows)]
fn remove_idle_lock_files(dir: &SegmentDir, prefixes: &[String]) {
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    for prefix in prefixes {
        let ours = |name: &&String| name.starts_with(prefix.as_str());
        if names.iter().filter(ours).any(|name| name.ends_with(".seg")) {
            continue;
        }
        for name in names.iter().filter(ours) {
            let _ = std::fs::remove_file(dir.path().join(name));
        }
    }
}

/// Whether the run that owns this work folder still lives: it keeps `alive` locked until it
/// ends. A folder without that file (or one we can lock) belongs to a run that is gone.
fn run_alive(work: &Path) -> bool {
    match std::fs::File::open(work.join(ALIVE)) {
        Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

impl About {
    fn of(dir: &SegmentDir) -> Self {
        Self {
            os: os_name(),
            arch: std::env::consts::ARCH,
            dir: dir.path().to_path_buf(),
            filesystem: filesystem_of(dir.path()),
            version: env!("CARGO_PKG_VERSION"),
            date: today(),
        }
    }
}

fn os_name() -> String {
    #[cfg(target_os = "linux")]
    if let Ok(release) = std::fs::read_to_string("/etc/os-release")
        && let Some(name) = release.lines().find_map(|l| l.strip_prefix("PRETTY_NAME="))
    {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        return format!("{}, Linux {}", name.trim_matches('"'), kernel.trim());
    }
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    #[cfg(target_os = "macos")]
    if let Some(version) = output("sw_vers", &["-productVersion"]) {
        return format!("macOS {version}");
    }
    #[cfg(windows)]
    if let Some(version) = output("cmd", &["/C", "ver"]) {
        return version;
    }
    let _ = output;
    std::env::consts::OS.to_owned()
}

/// The filesystem type of `path` (tmpfs, ext4, apfs, NTFS…), as the OS's own tool says it.
fn filesystem_of(path: &Path) -> String {
    #[cfg(target_os = "linux")]
    let found = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(path)
        .output()
        .ok();
    #[cfg(target_os = "macos")]
    let found = Command::new("stat")
        .args(["-f", "%T"])
        .arg(path)
        .output()
        .ok();
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    let found: Option<std::process::Output> = {
        let _ = path;
        None
    };
    found
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Today's date (UTC), from the system clock.
fn today() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    // "2026-11-28T11:55:24Z": the date is what a ticket needs.
    now.split('T').next().unwrap_or_default().to_owned()
}

/// One line per row, for a terminal.
pub fn to_text(report: &Report) -> String {
    let mut out = String::new();
    for row in &report.rows {
        let _ = writeln!(
            out,
            "{} [{}] {}: {} ({} ms)\n    expected: {}\n    observed: {}",
            if row.passed { "pass" } else { "FAIL" },
            row.column.name(),
            row.scenario,
            if row.passed {
                "as the contract says"
            } else {
                "NOT as the contract says"
            },
            row.took.as_millis(),
            row.expected,
            row.observed
        );
    }
    let failed = report.rows.iter().filter(|r| !r.passed).count();
    let _ = writeln!(
        out,
        "{} passed, {failed} failed ({}, segment directory {} on {})",
        report.rows.len() - failed,
        report.about.os,
        report.about.dir.display(),
        report.about.filesystem
    );
    out
}

/// A QA ticket: the machine, then the table.
pub fn to_markdown(report: &Report) -> String {
    let about = &report.about;
    let mut out = format!(
        "## shmimage check\n\n\
         - OS: {}\n- Architecture: {}\n- Segment directory: `{}` ({})\n- shmimage: {}\n- Date: {}\n\n\
         | rules | scenario | expected | observed | result | time |\n|---|---|---|---|---|---|\n",
        about.os,
        about.arch,
        about.dir.display(),
        about.filesystem,
        about.version,
        about.date
    );
    for row in &report.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} ms |",
            row.column.name(),
            row.scenario,
            row.expected,
            row.observed.replace('|', "\\|"),
            if row.passed { "pass" } else { "**FAIL**" },
            row.took.as_millis()
        );
    }
    out
}

/// One JSON object, for scripts.
pub fn to_json(report: &Report) -> String {
    let text = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    let about = &report.about;
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|row| {
            format!(
                "{{\"rules\":{},\"scenario\":{},\"expected\":{},\"observed\":{},\"passed\":{},\"ms\":{}}}",
                text(row.column.name()),
                text(row.scenario),
                text(row.expected),
                text(&row.observed),
                row.passed,
                row.took.as_millis()
            )
        })
        .collect();
    format!(
        "{{\"os\":{},\"arch\":{},\"dir\":{},\"filesystem\":{},\"version\":{},\"date\":{},\"passed\":{},\"rows\":[{}]}}\n",
        text(&about.os),
        text(about.arch),
        text(&about.dir.display().to_string()),
        text(&about.filesystem),
        text(about.version),
        text(&about.date),
        report.passed(),
        rows.join(",")
    )
}
