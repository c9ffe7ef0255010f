//! The command line's definitions (clap): what each command takes, and how its values are
//! checked as they are parsed. The bodies are in the commands' own files.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use super::{options_from_env, segment_dir};
use crate::codec::Encoding;
use crate::codec::raw::PixelFormat;
use crate::protocol::{self, DEFAULT_KEY, Endpoint, Mode, ShareError};

#[derive(Debug, Parser)]
#[command(
    name = "shmimage",
    version,
    about = "Share an image between processes through named shared memory.",
    long_about = "Share an image between processes through named shared memory.\n\n\
        With no command, opens the window (run it twice: load an image in one window, \
        display it in the other). The commands below do the same from a terminal."
)]
pub struct Cli {
    /// Key under which the image is shared (Qt's example uses QSharedMemoryExample).
    #[arg(long, global = true, default_value = DEFAULT_KEY)]
    pub key: String,

    /// How images are shared under the key: this program's own crash-proof segments, or the
    /// objects Qt's own example uses, so that it and Qt exchange images (Qt's modes: Linux, Windows, and macOS, where they have not run yet).
    #[arg(long, global = true, value_parser = mode_parser(), conflicts_with_all = ["qt", "qt6"])]
    pub mode: Option<Mode>,

    /// The same as --mode qt5: Qt 5's System V segment and semaphore, named as Qt names them.
    #[arg(long, global = true)]
    pub qt: bool,

    /// The same as --mode qt6: what Qt 6.6+'s example does with QNativeIpcKey (POSIX shared
    /// memory /dev/shm/KEY and semaphore /dev/shm/sem.KEY).
    #[arg(long, global = true, conflicts_with = "qt")]
    pub qt6: bool,

    /// Image to publish when the window opens.
    pub image: Option<PathBuf>,

    /// Open the window with Follow ticked: it shows every new image published under the key.
    #[arg(long)]
    pub follow: bool,

    /// Open the window reading another program's object (its "Native key" and "Raw shape").
    #[command(flatten)]
    pub native: NativeKeyArgs,

    /// Where to open the window, X,Y (its top-left corner, in points): "Open another window"
    /// uses it to place the new one beside the first.
    #[arg(long, hide = true, value_parser = parse_position)]
    pub window_at: Option<[f32; 2]>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish IMAGE; print "ready" when a reader can fetch it, then share it until Ctrl-C,
    /// SIGTERM, or --hold-ms.
    Put {
        image: PathBuf,
        /// raw (RGBA8 pixels, fastest) or png (compact). With --qt it is always Qt's PNG.
        #[arg(long, default_value = "raw")]
        encoding: Encoding,
        /// Stop sharing after this many milliseconds instead of waiting for a signal.
        #[arg(long)]
        hold_ms: Option<u64>,
        /// Also stop sharing when standard input closes: for a program that starts `put` as its
        /// child, so the image goes away with it, however it ends.
        #[arg(long)]
        until_stdin_closes: bool,
        /// Write IMAGE as headerless pixels into a shared-memory object of exactly this name
        /// (/dev/shm/NAME on Linux, a named file mapping on Windows), for a program that reads
        /// it with Python's multiprocessing.shared_memory, OpenCV or the like; prints the shape
        /// to read it with.
        #[arg(long)]
        native_key: Option<String>,
        /// With --native-key: the pixel format written.
        #[arg(long, requires = "native_key", default_value = "rgba8", value_parser = format_parser(|_| true))]
        raw_format: PixelFormat,
        /// Publish IMAGE again whenever it changes on disk (an editor's save, in place or by
        /// renaming a new file over it). A file that does not decode yet is waited for, and
        /// the last good image stays shared meanwhile.
        #[arg(long)]
        watch: bool,
    },
    /// Fetch the shared image and save it to OUT (format from OUT's extension).
    Get {
        out: PathBuf,
        #[command(flatten)]
        native: NativeKeyArgs,
    },
    /// Describe what is shared under the key: paths, size, encoding, dimensions, publisher, liveness.
    Info {
        #[command(flatten)]
        native: NativeKeyArgs,
    },
    /// Remove what dead processes left behind, for every key, saying what was removed.
    Clean,
    /// Time a publish in this process and a fetch in a second process, stage by stage, against
    /// the memory-copy floor for the same bytes.
    Bench {
        /// Size of a generated test image, WIDTHxHEIGHT.
        #[arg(long, default_value = "4096x4096", value_parser = parse_size)]
        size: (u32, u32),
        /// Use this image instead of a generated one.
        #[arg(long)]
        image: Option<PathBuf>,
        #[arg(long, default_value = "raw")]
        encoding: Encoding,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Follow a stream instead: a publisher process (`shmimage stream`) at --rate, and this
        /// process following it; reports latency, frames delivered and skipped, and the floor.
        #[arg(long)]
        follow: bool,
        /// With --follow: frames per second.
        #[arg(long, default_value_t = 30.0, requires = "follow", value_parser = parse_rate)]
        rate: f64,
        /// With --follow: how long the stream runs.
        #[arg(long, default_value_t = 5.0, requires = "follow", value_parser = parse_seconds)]
        seconds: f64,
        /// With --follow: the publisher rewrites one native object in place (headerless pixels
        /// in --raw-format, as a video source does), and this process follows that object.
        #[arg(long, requires = "follow")]
        native_key: bool,
        /// With --native-key: the pixel format the publisher writes.
        #[arg(long, requires = "native_key", default_value = "bgr8", value_parser = format_parser(PixelFormat::has_colour))]
        raw_format: PixelFormat,
        /// With --follow, a test seam: the follower also waits this long per frame.
        #[arg(long, default_value_t = 0, hide = true, requires = "follow")]
        slow_ms: u64,
        /// Sweep the size instead: publish-to-fetch latency from 64 bytes to 64 MiB in powers of
        /// 4, for shmimage's segments, Qt 5's mode and the copy floor; writes a log-log plot
        /// (OUT.svg) and the figures (OUT.json).
        #[arg(long, conflicts_with = "follow")]
        sweep: bool,
        /// With --sweep: runs per point (the median is plotted, the spread beside it).
        #[arg(long, default_value_t = 5, requires = "sweep")]
        reps: usize,
        /// With --sweep: where the plot and the figures go, without the extension.
        #[arg(long, default_value = "bench-sweep", requires = "sweep")]
        out: PathBuf,
    },
    /// Publish a moving test pattern at a fixed rate until Ctrl-C (a live demo of Follow, and
    /// the publisher of `bench --follow`). Prints a line per frame.
    Stream {
        /// WIDTHxHEIGHT of the frames.
        #[arg(long, default_value = "1024x1024", value_parser = parse_size)]
        size: (u32, u32),
        /// Frames per second.
        #[arg(long, default_value_t = 30.0, value_parser = parse_rate)]
        rate: f64,
        /// Stop after this many seconds instead of at Ctrl-C.
        #[arg(long, value_parser = parse_seconds)]
        seconds: Option<f64>,
        #[arg(long, default_value = "raw")]
        encoding: Encoding,
        /// Rewrite one shared-memory object of exactly this name in place instead, headerless
        /// pixels in --raw-format, as a camera or OpenCV process writes its frames.
        #[arg(long)]
        native_key: Option<String>,
        /// With --native-key: the pixel format written (formats with colour: the frame's index
        /// is kept in its colour channels).
        #[arg(long, requires = "native_key", default_value = "rgba8", value_parser = format_parser(PixelFormat::has_colour))]
        raw_format: PixelFormat,
    },
    /// The reader half of `bench` (runs in its own process).
    #[command(hide = true)]
    BenchReader,
    /// Run the README's lifetime table on this machine, with real processes: each row says what
    /// the contract expects, what happened, and pass or fail (exit status 1 on any failure).
    Check {
        /// Print one JSON object instead of the text table.
        #[arg(long)]
        json: bool,
        /// Print a Markdown report for a QA ticket (OS, architecture, directory, version, date).
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// Run nothing: put reports made with `check --json` on several machines side by side,
        /// as one Markdown table (one column per OS and rules, one row per scenario).
        #[arg(long, value_name = "REPORT.json", num_args = 1.., conflicts_with_all = ["json", "markdown"])]
        compare: Vec<PathBuf>,
    },
    /// A reader that stays attached, for `check` (runs in its own process).
    #[command(hide = true)]
    CheckReader,
    /// The lessons: six experiments a class predicts, runs for real and hears explained. Prints
    /// the teacher's handout (with --answers, the answers on this OS and why), or runs a lesson.
    Lessons {
        /// Print the handout as Markdown (what it prints anyway; for scripts that say so).
        #[arg(long)]
        markdown: bool,
        /// Add each lesson's answer on this OS, and why.
        #[arg(long)]
        answers: bool,
        /// The language of the handout, or of a lesson's run.
        #[arg(long, default_value = "en", value_parser = ["en", "zh-CN"])]
        language: String,
        /// Run lesson N (1 to 6) with real processes and say what happened.
        #[arg(long, value_name = "N", conflicts_with_all = ["markdown", "answers"])]
        run: Option<usize>,
    },
    /// Lesson 2's writer (runs in its own process): shares OLD as raw pixels under the native
    /// key, and on "write" from stdin rewrites it in place with NEW holding the key's lock,
    /// stopping halfway until "go on".
    #[command(hide = true)]
    LessonWriter {
        old: PathBuf,
        new: PathBuf,
        #[arg(long)]
        native_key: String,
    },
    /// Lesson 2's reader (runs in its own process): copies the picture once into OUT, after
    /// taking the key's lock with --lock, or without it.
    #[command(hide = true)]
    LessonReader {
        out: PathBuf,
        #[arg(long)]
        native_key: String,
        #[arg(long, value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long)]
        lock: bool,
    },
    /// Print every process's protocol steps under the key as they happen (create, attach, lock,
    /// copy, unlock, detach, with their Qt calls and OS objects), until Ctrl-C.
    Trace {
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// First show the steps of this long ago (e.g. 30s, 5m); without it only new steps.
        #[arg(long, value_parser = humantime::parse_duration)]
        since: Option<Duration>,
        /// Stop after this long instead of at Ctrl-C (e.g. 10s).
        #[arg(long, value_parser = humantime::parse_duration)]
        stop_after: Option<Duration>,
    },
}

/// Qt's setNativeKey, for `get` and `info`: an object another program made (Linux, macOS, Windows).
#[derive(Debug, Clone, clap::Args)]
pub struct NativeKeyArgs {
    /// Read the shared-memory object with exactly this name (what Python's
    /// multiprocessing.shared_memory, Boost or OpenCV create: /dev/shm/NAME on Linux, a named
    /// file mapping on Windows), instead of the key's own segment. No lock is taken: none means
    /// anything there, as with Qt.
    #[arg(long)]
    native_key: Option<String>,
    #[arg(long, requires = "native_key", value_parser = parse_raw, help = raw_shape_help())]
    raw: Option<crate::codec::raw::RawShape>,
}

impl NativeKeyArgs {
    /// The native key given, if any.
    pub fn name(&self) -> Option<&str> {
        self.native_key.as_deref()
    }

    /// The raw shape given, in the words the window's field takes.
    pub fn shape_text(&self) -> Option<String> {
        self.raw.map(|shape| shape.to_string())
    }

    pub(super) fn apply(&self, mut endpoint: Endpoint) -> Endpoint {
        endpoint.native_key.clone_from(&self.native_key);
        endpoint.raw = self.raw;
        endpoint
    }
}

fn raw_shape_help() -> String {
    format!(
        "With --native-key: the object holds headerless pixels of this shape, \
         WIDTHxHEIGHT:FORMAT[:STRIDE], FORMAT one of {}",
        crate::codec::raw::PixelFormat::names()
    )
}

/// `--raw-format`'s values, from the one list of pixel formats: those `accepts` lets through
/// (every one for `put`; those with colour, where a frame keeps its index, for a stream).
fn format_parser(
    accepts: fn(PixelFormat) -> bool,
) -> impl clap::builder::TypedValueParser<Value = PixelFormat> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(
        PixelFormat::ALL
            .into_iter()
            .filter(|format| accepts(*format))
            .map(PixelFormat::name),
    )
    .try_map(|name| name.parse::<PixelFormat>())
}

fn parse_raw(text: &str) -> Result<crate::codec::raw::RawShape, String> {
    text.parse()
}

impl Command {
    /// As it is typed.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Command::Put { .. } => "put",
            Command::Get { .. } => "get",
            Command::Info { .. } => "info",
            Command::Clean => "clean",
            Command::Bench { .. } => "bench",
            Command::BenchReader => "bench-reader",
            Command::Stream { .. } => "stream",
            Command::Check { .. } => "check",
            Command::CheckReader => "check-reader",
            Command::Lessons { .. } => "lessons",
            Command::LessonWriter { .. } => "lesson-writer",
            Command::LessonReader { .. } => "lesson-reader",
            Command::Trace { .. } => "trace",
        }
    }

    /// What the journal calls a process running this command.
    pub(super) fn role(&self) -> protocol::Role {
        match self {
            Command::Put { .. } | Command::Stream { .. } | Command::LessonWriter { .. } => {
                protocol::Role::Put
            }
            Command::Get { .. } | Command::LessonReader { .. } => protocol::Role::Get,
            Command::Bench { .. } | Command::BenchReader => protocol::Role::Bench,
            Command::Check { .. } | Command::CheckReader | Command::Lessons { .. } => {
                protocol::Role::Check
            }
            Command::Info { .. } | Command::Clean | Command::Trace { .. } => protocol::Role::Other,
        }
    }
}

fn parse_position(text: &str) -> Result<[f32; 2], String> {
    let (x, y) = text.split_once(',').ok_or("expected X,Y, e.g. 980,0")?;
    let parse = |v: &str| {
        v.trim()
            .parse::<f32>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or(format!("{v:?} is not a number"))
    };
    Ok([parse(x)?, parse(y)?])
}

/// Longest `--seconds` accepted: a week, far past any demo, far inside what a `Duration` holds.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
/// Fastest `--rate` accepted, in frames per second.
const MAX_RATE: f64 = 10_000.0;

/// A number within `min..=max`, or the sentence that says which numbers are.
fn parse_within(text: &str, min: f64, max: f64, what: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|value| (min..=max).contains(value))
        .ok_or_else(|| format!("{text:?} is not {what} from {min} to {max}"))
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    parse_within(text, 0.001, MAX_SECONDS, "a number of seconds")
}

fn parse_rate(text: &str) -> Result<f64, String> {
    parse_within(text, 0.001, MAX_RATE, "a number of frames per second")
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, e.g. 4096x4096")?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(format!("{v:?} is not a positive number"))
    };
    let (width, height) = (parse(w)?, parse(h)?);
    // Within an image's limits: bench and stream allocate the frames before anything else.
    crate::codec::header::check_dimensions(width, height).map_err(|err| err.to_string())?;
    Ok((width, height))
}

/// `--mode`'s values, with each mode's name as its help, from the one list of modes.
fn mode_parser() -> impl clap::builder::TypedValueParser<Value = Mode> {
    let values = Mode::ALL
        .map(|mode| clap::builder::PossibleValue::new(mode.facts().id).help(mode.facts().name));
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(values).try_map(|id| id.parse::<Mode>())
}

impl Cli {
    pub fn mode(&self) -> Mode {
        // --qt and --qt6 came first, and scripts still use them.
        match (self.mode, self.qt, self.qt6) {
            (Some(mode), _, _) => mode,
            (None, true, _) => Mode::Qt5,
            (None, _, true) => Mode::Qt6,
            (None, false, false) => Mode::default(),
        }
    }

    pub(super) fn endpoint(&self) -> Result<Endpoint, ShareError> {
        Ok(Endpoint::in_dir(&self.key, segment_dir()?)
            .with_mode(self.mode())
            .with_options(options_from_env()))
    }
}
