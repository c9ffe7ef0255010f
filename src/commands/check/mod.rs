//! `shmimage check`: the README's lifetime table, measured on the machine in front of you, with
//! real processes (copies of this program) on the segment directory users get, under keys of
//! its own. A second column runs the same events under Qt 5's own rules (on macOS, where it has
//! not run yet, as on Linux).
//!
//! A run writes its keys down first, in its work folder in the private segment directory, so
//! that the next run removes whatever a killed one left, and nobody else can plant a list.

mod boundaries;
mod cleanup;
mod compare;
mod lessons;
mod place;
mod process;
mod report;
mod scenarios;
mod torn_picture;
mod users;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use image::RgbaImage;

use crate::codec;
use crate::protocol::{self, Endpoint, SegmentDir, ShareError};
use crate::sentence::{Sentence, sentence};
use cleanup::{clean_after_interrupted_runs, clean_dir, clean_keys};
pub use compare::read as read_report;
pub use compare::{Saved, SideBySide, compare, side_by_side, tidy};
pub use lessons::{Finding, LESSONS, Lesson, handout, run as run_lesson};
pub use process::interrupt;
use process::{Spawned, first_line, run_bounded, set_run};
pub use report::{About, to_json, to_markdown, to_text, verdict};
use scenarios::SCENARIOS;
pub use torn_picture::{lesson_reader, lesson_writer};

/// Every `put` the check starts stops sharing by itself after this, so an interrupted check
/// leaves no publisher running for long.
const HOLD_MS: &str = "20000";
/// The prefix of every key (and work folder) a check uses.
const PREFIX: &str = "shmimage-check";
/// The file in a run's work folder that the run keeps locked while it lives.
const ALIVE: &str = "alive";
/// The file in a run's work folder that lists its keys, one a line.
const KEYS: &str = "keys";

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
    #[error("{path} is not a report of `shmimage check --json` ({why}); make one on each machine with `shmimage check --json > NAME.json`", path = path.display())]
    NotAReport { path: PathBuf, why: String },
    #[error("there is no lesson {number}; the lessons are 1 to {count}", number = index + 1, count = lessons::LESSONS.len())]
    NoSuchLesson { index: usize },
}

/// Which rules (or objects) a row was run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// This program's own segments: the contract in the README.
    Shmimage,
    /// Qt 5's rules, run live with the same events: System V on Linux, a file mapping and a
    /// semaphore on Windows, as Qt's example uses them.
    QtRules,
    /// Named objects as other programs make them: native keys, and Qt 6's objects.
    NativeKeys,
    /// The machine itself (a container, a sandbox).
    Machine,
}

impl Column {
    pub fn name(self) -> &'static str {
        match self {
            Self::Shmimage => "shmimage",
            Self::QtRules => "Qt 5 rules",
            Self::NativeKeys => "native keys and Qt 6",
            Self::Machine => "this machine",
        }
    }
}

/// The parts of the report, in order: the lifetime table, then the boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// What a crash leaves: a contract, each row pass or fail.
    Lifetime,
    /// Name and size limits, measured.
    Limits,
    /// Containers and sandboxes.
    Place,
    OtherUsers,
    /// Whether names show in the filesystem.
    Visibility,
}

impl Section {
    pub const ALL: [Section; 5] = [
        Self::Lifetime,
        Self::Limits,
        Self::Place,
        Self::OtherUsers,
        Self::Visibility,
    ];

    /// The heading it is printed under.
    pub fn heading(self) -> &'static str {
        match self {
            Self::Lifetime => "Lifetime",
            Self::Limits => "Limits, measured",
            Self::Place => "Where this runs",
            Self::OtherUsers => "Other users",
            Self::Visibility => "Visibility",
        }
    }

    /// What `--json` calls it.
    pub fn id(self) -> &'static str {
        match self {
            Self::Lifetime => "lifetime",
            Self::Limits => "limits",
            Self::Place => "place",
            Self::OtherUsers => "users",
            Self::Visibility => "visibility",
        }
    }

    /// Whether its rows are a contract that passes or fails; the others measure, and fail only
    /// when the measurement does.
    pub fn is_contract(self) -> bool {
        matches!(self, Self::Lifetime | Self::OtherUsers)
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|section| section.id() == id)
    }
}

/// Every slug a run may make a key of: its rows', and the lessons'.
fn all_slugs() -> impl Iterator<Item = &'static str> {
    sections()
        .flat_map(|(_, rows)| rows.iter().map(|row| row.slug))
        .chain(lessons::LESSONS.iter().map(|lesson| lesson.slug))
        .chain(lessons::EXTRA_SLUGS.iter().copied())
}

/// Every section's rows, in order.
fn sections() -> impl Iterator<Item = (Section, &'static [scenarios::Scenario])> {
    std::iter::once((Section::Lifetime, SCENARIOS)).chain(boundaries::SECTIONS.iter().copied())
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub section: Section,
    pub column: Column,
    pub scenario: &'static str,
    pub expected: &'static str,
    pub observed: Sentence,
    pub passed: bool,
    pub took: Duration,
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

/// How a row says it could not measure here: that is information, not a pass.
fn not_measured(why: Sentence) -> Sentence {
    sentence!("not measured: %{why}", why = why)
}

/// Whether a row's observation is [`not_measured`].
fn is_not_measured(observed: &Sentence) -> bool {
    observed.same_template(&not_measured(Sentence::default()))
}

/// How many rows [`run`] runs on this OS.
pub fn row_count() -> usize {
    sections().map(|(_, rows)| rows.len()).sum()
}

/// `shmimage check`: runs the table, prints it as text, JSON or Markdown, and fails if any row
/// did. Ctrl-C ends the children and removes what the run made before exiting.
pub(crate) fn command(
    json: bool,
    markdown: bool,
    out: &mut dyn Write,
) -> Result<(), crate::commands::CliError> {
    if let Err(err) = ctrlc::set_handler(|| interrupt(130)) {
        log::warn!("cannot catch Ctrl-C/SIGTERM ({err})");
    }
    let dir = crate::commands::segment_dir()?;
    let program = std::env::current_exe().map_err(|source| CheckError::Prepare {
        path: "this program's path".into(),
        source,
    })?;
    let report = run(&dir, &program, |row| {
        if !json && !markdown {
            log::info!("{} {}: {}", row.column.name(), row.scenario, row.passed);
        }
    })?;
    let text = match (json, markdown) {
        (true, _) => to_json(&report),
        (_, true) => to_markdown(&report),
        _ => to_text(&report),
    };
    write!(out, "{text}").ok();
    if report.passed() {
        Ok(())
    } else {
        Err(crate::commands::CliError::CheckFailed)
    }
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
    for (section, scenario) in
        sections().flat_map(|(section, rows)| rows.iter().map(move |row| (section, row)))
    {
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
            section,
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

/// How long a killed process's locks may take to be released (Windows releases them after
/// `TerminateProcess` has returned, asynchronously).
const RELEASE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

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
    /// Children record their steps (a lesson shows them); `check`'s rows are no protocol to
    /// watch.
    journals: bool,
}

impl Check {
    fn prepare(dir: &SegmentDir, program: &Path) -> Result<Self, CheckError> {
        clean_after_interrupted_runs(dir);
        let work = dir.path().join(format!("{PREFIX}-{}", std::process::id()));
        let failed_in = work.clone();
        let prepare = move |source| CheckError::Prepare {
            path: failed_in.clone(),
            source,
        };
        crate::safe_fs::create_new_private_dir(&work).map_err(&prepare)?;
        let alive = create_new_file(&work.join(ALIVE), b"").map_err(&prepare)?;
        alive.lock().map_err(&prepare)?;
        let check = Self {
            dir: dir.clone(),
            alive,
            work,
            exe: program.to_path_buf(),
            first: pattern(48, 32, 1),
            second: pattern(40, 24, 2),
            journals: false,
        };
        // Written first, so that a run killed halfway is cleaned up by the next one.
        let keys: String = all_slugs()
            .map(|slug| format!("{}\n", check.key(slug)))
            .collect();
        create_new_file(&check.work.join(KEYS), keys.as_bytes()).map_err(&prepare)?;
        set_run(Some((check.dir.clone(), check.work.clone())));
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
        let mut command = crate::child::command(&self.exe);
        command
            .args(args)
            .args(["--key", key])
            .env(protocol::DIR_ENV, self.dir.path())
            .env_remove(protocol::PAUSE_MID_COPY_ENV)
            .env_remove(protocol::PAUSE_AFTER_CREATE_ENV)
            .env_remove(protocol::LOCK_TIMEOUT_ENV)
            .env_remove(protocol::DAMAGE_AFTER_PUBLISH_ENV)
            .env("RUST_LOG", "warn");
        if self.journals {
            command.env_remove(protocol::JOURNAL_ENV);
        } else {
            // A killed child's journal would outlive it (trace reports deaths from it), and the
            // check's rows are not a protocol to watch.
            command.env(protocol::JOURNAL_ENV, "off");
        }
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
        self.get_with(key, extra, &[])
    }

    /// `get` with these variables set (a shorter lock timeout).
    fn get_with(
        &self,
        key: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<RgbaImage, String> {
        let out = self.work.join(format!("{key}.png"));
        let mut args = vec!["get", out.to_str().unwrap_or_default()];
        args.extend_from_slice(extra);
        let mut command = self.command(key, &args);
        command.envs(env.iter().copied());
        image_saved_by(command, &out)
    }

    fn endpoint(&self, key: &str) -> Endpoint {
        unrecorded(Endpoint::in_dir(key, self.dir.clone()))
    }

    /// Waits until no live process holds a segment of `key`, at most [`RELEASE_WITHIN`]: a
    /// killed process's locks are released as it exits on Linux and macOS, but on Windows only
    /// some time after `TerminateProcess` returns. Past the deadline the row goes on and says
    /// what it sees.
    fn wait_until_released(&self, key: &str) {
        let deadline = std::time::Instant::now() + RELEASE_WITHIN;
        let endpoint = self.endpoint(key);
        let held = || {
            protocol::inspect(&endpoint).is_ok_and(|inspection| {
                inspection
                    .rows
                    .iter()
                    .any(|row| row.name == "state" && row.value.english() == "live")
            })
        };
        while held() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The key's files in the segment directory (segments, lock and state).
    fn files(&self, key: &str) -> Vec<String> {
        let Ok(native) = protocol::native_key_for(key) else {
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
        set_run(None);
    }
}

/// Runs `command`, which saves an image to `out`: the image (its file removed), or the
/// command's error line.
fn image_saved_by(command: Command, out: &Path) -> Result<RgbaImage, String> {
    let output = run_bounded(command)?;
    if !output.status.success() {
        return Err(first_line(&output.stderr));
    }
    saved_image(out)
}

/// The image a child saved to `out`, its file removed.
fn saved_image(out: &Path) -> Result<RgbaImage, String> {
    let image = codec::decode_file(out)
        .map_err(|err| err.to_string())?
        .image;
    let _ = std::fs::remove_file(out);
    Ok(image)
}

/// The check's own steps (a look at what a key holds, Qt's rules) are not part of any demo,
/// and a journal of the checking process would outlive its keys' cleanup.
fn unrecorded(endpoint: Endpoint) -> Endpoint {
    let options = protocol::Options {
        journal: false,
        ..endpoint.options.clone()
    };
    endpoint.with_options(options)
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

/// A new file holding `bytes`, made here and now: never through a link, never one that exists.
fn create_new_file(path: &Path, bytes: &[u8]) -> std::io::Result<std::fs::File> {
    let mut file = crate::safe_fs::open_file(path, crate::safe_fs::OpenFor::CreatingNew)?;
    file.write_all(bytes)?;
    Ok(file)
}
