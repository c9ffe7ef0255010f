//! The command line: `put`, `get`, `info`, `clean` and `bench` for scripts, tests and QA, and the
//! window when no command is given.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::codec::{self, Encoding};
use crate::share::{self, DEFAULT_KEY, Endpoint, Mode, Options, SegmentDir, ShareError};

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

    /// Qt-compatible mode: exchange images with Qt's own shared-memory example (System V
    /// segment and semaphore named as Qt names them, the image as QDataStream PNG; Linux).
    #[arg(long, global = true)]
    pub qt: bool,

    /// Qt 6 compatible mode: what Qt 6.6+'s example does with QNativeIpcKey (POSIX shared
    /// memory /dev/shm/KEY and semaphore /dev/shm/sem.KEY; Linux).
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
        /// With --native-key: the pixel format written (rgba8, rgb8, bgr8, bgra8, gray8, gray16).
        #[arg(long, requires = "native_key", default_value = "rgba8")]
        raw_format: crate::codec::raw::PixelFormat,
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
        /// With --follow, a test seam: the follower also waits this long per frame.
        #[arg(long, default_value_t = 0, hide = true, requires = "follow")]
        slow_ms: u64,
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
    },
    /// A reader that stays attached, for `check` (runs in its own process).
    #[command(hide = true)]
    CheckReader,
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
    /// With --native-key: the object holds headerless pixels of this shape,
    /// WIDTHxHEIGHT:FORMAT[:STRIDE], FORMAT one of rgba8, rgb8, bgr8, bgra8, gray8, gray16.
    #[arg(long, requires = "native_key", value_parser = parse_raw)]
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

    fn apply(&self, mut endpoint: Endpoint) -> Endpoint {
        endpoint.native_key.clone_from(&self.native_key);
        endpoint.raw = self.raw;
        endpoint
    }
}

fn parse_raw(text: &str) -> Result<crate::codec::raw::RawShape, String> {
    text.parse()
}

impl Command {
    /// As it is typed.
    fn name(&self) -> &'static str {
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
            Command::Trace { .. } => "trace",
        }
    }

    /// What the journal calls a process running this command.
    fn role(&self) -> share::Role {
        match self {
            Command::Put { .. } | Command::Stream { .. } => share::Role::Put,
            Command::Get { .. } => share::Role::Get,
            Command::Bench { .. } | Command::BenchReader => share::Role::Bench,
            Command::Check { .. } | Command::CheckReader => share::Role::Check,
            Command::Info { .. } | Command::Clean | Command::Trace { .. } => share::Role::Other,
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

impl Cli {
    pub fn mode(&self) -> Mode {
        match (self.qt, self.qt6) {
            (true, _) => Mode::Qt,
            (_, true) => Mode::Qt6,
            _ => Mode::Native,
        }
    }

    fn endpoint(&self) -> Result<Endpoint, ShareError> {
        Ok(Endpoint::in_dir(&self.key, segment_dir()?)
            .with_mode(self.mode())
            .with_options(options_from_env()))
    }
}

/// The segment directory: `SHMIMAGE_DIR` if set (tests use it for isolation), else this user's.
pub fn segment_dir() -> Result<SegmentDir, ShareError> {
    Ok(SegmentDir::from_env_or_default()?)
}

/// The lock timeout and the test hooks, from their environment variables.
pub fn options_from_env() -> Options {
    let millis = |variable: &str| {
        std::env::var(variable)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis)
    };
    Options {
        lock_timeout: millis(share::LOCK_TIMEOUT_ENV).unwrap_or(Options::default().lock_timeout),
        pause_mid_copy: millis(share::PAUSE_MID_COPY_ENV),
        pause_after_create: millis(share::PAUSE_AFTER_CREATE_ENV),
        keep_leftovers: std::env::var_os(share::KEEP_LEFTOVERS_ENV).is_some(),
        damage_after_publish: std::env::var_os(share::DAMAGE_AFTER_PUBLISH_ENV).is_some(),
        journal: !std::env::var(share::JOURNAL_ENV).is_ok_and(|value| value == "off"),
    }
}

/// What a command can fail with; printed as one `error: …` line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error(transparent)]
    Bench(#[from] crate::bench::BenchError),
    #[error(transparent)]
    Check(#[from] crate::check::CheckError),
    #[error(
        "the check found behaviour that differs from the contract (the rows marked FAIL above)"
    )]
    CheckFailed,
    #[error(
        "--native-key before a command is the window's; to {command} with it, put it after the command: shmimage {command} … --native-key NAME"
    )]
    NativeKeyBeforeCommand { command: &'static str },
}

impl From<crate::codec::CodecError> for CliError {
    fn from(err: crate::codec::CodecError) -> Self {
        Self::Share(err.into())
    }
}

/// Runs a command; `Ok(false)` means no command was given (the caller opens the window).
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<bool, CliError> {
    let Some(command) = &cli.command else {
        share::Role::Window.set_for_this_process();
        return Ok(false);
    };
    if cli.native.name().is_some() {
        return Err(CliError::NativeKeyBeforeCommand {
            command: command.name(),
        });
    }
    command.role().set_for_this_process();
    match command {
        Command::Put {
            image,
            encoding,
            hold_ms,
            until_stdin_closes,
            watch,
            native_key,
            raw_format,
        } => {
            let stop = Stop {
                after: hold_ms.map(Duration::from_millis),
                on_stdin_close: *until_stdin_closes,
                watch: *watch,
            };
            let native = native_key.as_deref().map(|name| (name, *raw_format));
            put(&cli.endpoint()?, image, *encoding, native, stop, out)?;
        }
        Command::Get { out: path, native } => get(&native.apply(cli.endpoint()?), path, out)?,
        Command::Info { native } => info(&native.apply(cli.endpoint()?), out)?,
        Command::Clean => clean(out)?,
        Command::Bench {
            size,
            json,
            follow: true,
            rate,
            seconds,
            slow_ms,
            ..
        } => {
            let options = crate::stream::FollowBenchOptions {
                width: size.0,
                height: size.1,
                rate: *rate,
                seconds: *seconds,
                json: *json,
                slow_ms: *slow_ms,
            };
            let endpoint = cli.endpoint()?;
            let endpoint = Endpoint::in_dir(&format!("{}-follow", cli.key), endpoint.dir.clone())
                .with_mode(endpoint.mode)
                .with_options(options_from_env());
            write!(out, "{}", crate::stream::bench_follow(&endpoint, &options)?).ok();
        }
        Command::Stream {
            size,
            rate,
            seconds,
            encoding,
        } => {
            let options = crate::stream::StreamOptions {
                width: size.0,
                height: size.1,
                rate: *rate,
                seconds: *seconds,
                encoding: *encoding,
            };
            crate::stream::run_stream(&cli.endpoint()?, &options, out)?;
        }
        Command::Bench {
            size,
            image,
            encoding,
            json,
            ..
        } => {
            let options = crate::bench::BenchOptions {
                width: size.0,
                height: size.1,
                image: image.clone(),
                encoding: *encoding,
                json: *json,
            };
            let endpoint = Endpoint::in_dir(&format!("{}-bench", cli.key), segment_dir()?)
                .with_options(options_from_env());
            write!(out, "{}", crate::bench::run(&endpoint, &options)?).ok();
        }
        Command::Check { json, markdown } => {
            // Ctrl-C ends the children and removes what the run made before exiting.
            if let Err(err) = ctrlc::set_handler(|| crate::check::interrupt(130)) {
                log::warn!("cannot catch Ctrl-C/SIGTERM ({err})");
            }
            let dir = segment_dir()?;
            let program =
                std::env::current_exe().map_err(|source| crate::check::CheckError::Prepare {
                    path: "this program's path".into(),
                    source,
                })?;
            let report = crate::check::run(&dir, &program, |row| {
                if !json && !markdown {
                    log::info!("{} {}: {}", row.column.name(), row.scenario, row.passed);
                }
            })?;
            let text = match (json, markdown) {
                (true, _) => crate::check::to_json(&report),
                (_, true) => crate::check::to_markdown(&report),
                _ => crate::check::to_text(&report),
            };
            write!(out, "{text}").ok();
            if !report.passed() {
                return Err(CliError::CheckFailed);
            }
        }
        Command::CheckReader => crate::check::hold_attached(&cli.endpoint()?, out)?,
        Command::Trace {
            json,
            since,
            stop_after,
        } => {
            let options = crate::trace::TraceOptions {
                json: *json,
                since: *since,
                stop_after: *stop_after,
            };
            let endpoint = cli.endpoint()?;
            // On stderr, so that stdout holds only steps (and scripts can tell it has started).
            eprintln!(
                "tracing key {:?} ({}) in {}; Ctrl-C to stop",
                endpoint.key,
                endpoint.mode.facts().name,
                endpoint.dir.path().display()
            );
            crate::trace::run(&endpoint, &options, out);
        }
        Command::BenchReader => {
            let endpoint =
                Endpoint::in_dir(&cli.key, segment_dir()?).with_options(options_from_env());
            let fetched = share::fetch(&endpoint)?;
            writeln!(out, "{}", crate::bench::stages_line(&fetched.stages)).ok();
        }
    }
    Ok(true)
}

/// When `put` stops sharing, besides Ctrl-C and SIGTERM.
struct Stop {
    after: Option<Duration>,
    on_stdin_close: bool,
    /// Not a way to stop: `--watch`, which republishes until then.
    watch: bool,
}

/// What `put` waits for once it shares the image.
enum PutEvent {
    Stop,
    /// The image file changed on disk (`--watch`).
    Changed,
}

fn put(
    endpoint: &Endpoint,
    path: &Path,
    encoding: Encoding,
    native: Option<(&str, crate::codec::raw::PixelFormat)>,
    stop: Stop,
    out: &mut dyn Write,
) -> Result<(), ShareError> {
    // Installed first, so a signal that arrives while publishing still ends in a clean detach.
    let (stop_tx, stop_rx) = mpsc::channel();
    if stop.on_stdin_close {
        let stop_tx = stop_tx.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            let _ = stop_tx.send(PutEvent::Stop);
        });
    }
    let changes = stop_tx.clone();
    let handler = ctrlc::set_handler(move || {
        let _ = stop_tx.send(PutEvent::Stop);
    });
    if let Err(err) = handler {
        log::warn!(
            "cannot catch Ctrl-C/SIGTERM ({err}); the segment is still reclaimed after exit"
        );
    }
    let key = &endpoint.key;
    if let Some((name, format)) = native {
        let loaded = codec::decode_file(path)?;
        let (bytes, shape) = crate::codec::raw::from_rgba(&loaded.image, format);
        let object = share::publish_raw(name, &bytes)?;
        writeln!(
            out,
            "ready native-key={name:?} {} bytes={}: read it with --native-key {name} --raw {shape}",
            object.location, object.size
        )
        .ok();
        out.flush().ok();
        let deadline = stop.after.map(|after| std::time::Instant::now() + after);
        while let Some(PutEvent::Changed) = next_event(&stop_rx, deadline) {}
        drop(object);
        writeln!(out, "removed {name:?}").ok();
        return Ok(());
    }
    if let Some(animation) = codec::animation::Animation::open(path)? {
        let deadline = stop.after.map(|after| std::time::Instant::now() + after);
        return put_animation(endpoint, animation, encoding, &stop_rx, deadline, out);
    }
    let loaded = codec::decode_file(path)?;
    let mut publication = share::publish(endpoint, &loaded.image, encoding)?;
    let header = &publication.header;
    let notes: Vec<String> = loaded
        .note
        .into_iter()
        .chain(publication.note.clone())
        .collect();
    // Also on stderr, where a script that only checks for errors looks.
    for note in &notes {
        eprintln!("note: {note}");
    }
    let note = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    writeln!(
        out,
        "ready key={key:?} generation={} {}x{} encoding={} bytes={} in {:.1} ms{note}",
        header.generation,
        header.width,
        header.height,
        header.encoding,
        publication.segment_size,
        publication.stages.total.as_secs_f64() * 1000.0,
    )
    .ok();
    out.flush().ok();
    // Watched from after the first publish: a change before it is in that image already.
    let _watch = if stop.watch {
        let watch = crate::watch::watch_file(path, move || {
            let _ = changes.send(PutEvent::Changed);
        });
        match watch {
            Ok(watch) => Some(watch),
            Err(sentence) => {
                eprintln!("note: {sentence}; sharing the image without watching it");
                None
            }
        }
    } else {
        None
    };
    let deadline = stop.after.map(|after| std::time::Instant::now() + after);
    let mut waiting_for_a_whole_file = false;
    while let Some(PutEvent::Changed) = next_event(&stop_rx, deadline) {
        // A file still being written does not decode: say so once, keep the last good image,
        // and try again at its next change.
        let loaded = match codec::decode_file(path) {
            Ok(loaded) => loaded,
            Err(err) => {
                if !waiting_for_a_whole_file {
                    eprintln!(
                        "note: {} does not decode ({err}); still sharing the last good image until it does",
                        path.display()
                    );
                }
                waiting_for_a_whole_file = true;
                continue;
            }
        };
        waiting_for_a_whole_file = false;
        let newer = share::publish(endpoint, &loaded.image, encoding)?;
        let header = &newer.header;
        writeln!(
            out,
            "republished key={key:?} generation={} {}x{} (the file changed)",
            header.generation, header.width, header.height
        )
        .ok();
        out.flush().ok();
        std::mem::replace(&mut publication, newer).withdraw();
    }
    publication.withdraw();
    writeln!(out, "stopped sharing key {key:?}").ok();
    Ok(())
}

/// The next thing `put` is told, or `None` once `until` has passed (or nothing can tell it
/// anything any more).
fn next_event(
    events: &mpsc::Receiver<PutEvent>,
    until: Option<std::time::Instant>,
) -> Option<PutEvent> {
    match until {
        Some(until) => events
            .recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
            .ok(),
        None => events.recv().ok(),
    }
}

/// `put` of an animated GIF, APNG or WebP: every frame at its delay, looping until stopped,
/// with a line per frame ("ready" after the first).
fn put_animation(
    endpoint: &Endpoint,
    mut animation: codec::animation::Animation,
    encoding: Encoding,
    stop_rx: &mpsc::Receiver<PutEvent>,
    deadline: Option<std::time::Instant>,
    out: &mut dyn Write,
) -> Result<(), ShareError> {
    let mut shown: Option<share::Publication> = None;
    let key = &endpoint.key;
    let on_frame = |frame: codec::animation::AnimationFrame, publication: share::Publication| {
        let header = &publication.header;
        if shown.is_none() {
            eprintln!(
                "note: an animation: each frame is shared at its delay, looping until stopped"
            );
            writeln!(
                out,
                "ready key={key:?} generation={} {}x{} encoding={} (animation)",
                header.generation, header.width, header.height, header.encoding
            )
            .ok();
        }
        writeln!(
            out,
            "{} generation={} delay_ms={}",
            crate::play::frame_words(&frame),
            header.generation,
            frame.delay.as_millis()
        )
        .ok();
        out.flush().ok();
        if let Some(old) = shown.replace(publication) {
            old.withdraw();
        }
    };
    // Until the frame is due, Ctrl-C, SIGTERM, stdin closing or --hold-ms; a file change
    // (--watch) does not apply to animations.
    let wait_until = |due: std::time::Instant| loop {
        let until = deadline.map_or(due, |deadline| deadline.min(due));
        match next_event(stop_rx, Some(until)) {
            Some(PutEvent::Changed) => {}
            Some(PutEvent::Stop) => return true,
            None => return deadline.is_some_and(|d| std::time::Instant::now() >= d),
        }
    };
    let played = crate::play::play(endpoint, &mut animation, encoding, on_frame, wait_until);
    if let Some(last) = shown {
        last.withdraw();
    }
    played?;
    writeln!(out, "stopped sharing key {key:?}").ok();
    Ok(())
}

fn get(endpoint: &Endpoint, path: &Path, out: &mut dyn Write) -> Result<(), ShareError> {
    // Ctrl-C or SIGTERM ends `get` at once, or, while it holds Qt 6's semaphore (which has no
    // undo), right after giving it back, so the key never stays locked for everyone.
    if let Err(err) = ctrlc::set_handler(|| share::exit_when_released(130)) {
        log::warn!("cannot catch Ctrl-C/SIGTERM ({err})");
    }
    let fetched = share::fetch(endpoint)?;
    codec::save_image(&fetched.image, path)?;
    let header = &fetched.header;
    writeln!(
        out,
        "saved {}x{} image (encoding {}, generation {}, from {}) to {}",
        header.width,
        header.height,
        header.encoding,
        header.generation,
        share::publisher_name(header.publisher_pid),
        path.display()
    )
    .ok();
    if let Some(note) = &fetched.note {
        writeln!(out, "note: {note}").ok();
    }
    Ok(())
}

fn info(endpoint: &Endpoint, out: &mut dyn Write) -> Result<(), ShareError> {
    write!(out, "{}", share::inspect(endpoint)?.to_text()).ok();
    Ok(())
}

fn clean(out: &mut dyn Write) -> Result<(), ShareError> {
    let dir = segment_dir()?;
    let cleaned = share::clean(&dir)?;
    if cleaned.segments.is_empty() && cleaned.journals == 0 {
        writeln!(out, "nothing to clean in {}", dir.path().display()).ok();
    }
    if cleaned.journals > 0 {
        writeln!(
            out,
            "forgot the protocol journals of {} dead process(es): `shmimage trace --since` no longer shows their steps",
            cleaned.journals
        )
        .ok();
    }
    for item in cleaned.segments {
        writeln!(
            out,
            "removed {} ({} bytes, left by a dead process)",
            item.path.display(),
            item.size
        )
        .ok();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_takes_a_native_key_and_raw_shape_and_get_keeps_its_own() {
        let cli = Cli::try_parse_from([
            "shmimage",
            "--native-key",
            "frames",
            "--raw",
            "640x480:bgr8",
            "--follow",
        ])
        .unwrap();
        assert_eq!(cli.native.name(), Some("frames"));
        assert_eq!(cli.native.shape_text().as_deref(), Some("640x480:bgr8"));
        assert!(cli.command.is_none());
        // A shape means nothing without the object it describes.
        assert!(Cli::try_parse_from(["shmimage", "--raw", "8x4:rgb8"]).is_err());
        let get =
            Cli::try_parse_from(["shmimage", "get", "out.png", "--native-key", "frames"]).unwrap();
        assert!(get.native.name().is_none());
        // Before the command, the window's native key is refused, not silently ignored: `get`
        // would read the key's segment instead.
        let misplaced =
            Cli::try_parse_from(["shmimage", "--native-key", "frames", "get", "out.png"]).unwrap();
        let err = run(&misplaced, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("after the command"), "{err}");
        // The shared options still go before it.
        let qt = Cli::try_parse_from(["shmimage", "--key", "k", "--qt", "info"]).unwrap();
        assert!(qt.qt && qt.key == "k" && qt.command.is_some());
        match get.command {
            Some(Command::Get { native, .. }) => assert_eq!(native.name(), Some("frames")),
            other => panic!("{other:?}"),
        }
    }
}
