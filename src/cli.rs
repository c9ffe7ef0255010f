//! The command line: `put`, `get`, `info`, `clean` and `bench` for scripts, tests and QA, and the
//! window when no command is given.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::codec::{self, Encoding};
use crate::share::{self, DEFAULT_KEY, Endpoint, Mode, ShareError};
use crate::shm::{self, QtInspection, SegmentDir};

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
    },
    /// Fetch the shared image and save it to OUT (format from OUT's extension).
    Get { out: PathBuf },
    /// Describe what is shared under the key: paths, size, encoding, dimensions, publisher, liveness.
    Info,
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
    },
    /// The reader half of `bench` (runs in its own process).
    #[command(hide = true)]
    BenchReader,
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
    Ok((parse(w)?, parse(h)?))
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
        Ok(Endpoint::new(&self.key)?.with_mode(self.mode()))
    }
}

/// Runs a command; `Ok(false)` means no command was given (the caller opens the window).
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<bool, ShareError> {
    let Some(command) = &cli.command else {
        return Ok(false);
    };
    match command {
        Command::Put {
            image,
            encoding,
            hold_ms,
        } => put(&cli.endpoint()?, image, *encoding, *hold_ms, out)?,
        Command::Get { out: path } => get(&cli.endpoint()?, path, out)?,
        Command::Info => info(&cli.endpoint()?, out)?,
        Command::Clean => clean(out)?,
        Command::Bench {
            size,
            image,
            encoding,
            json,
        } => {
            let options = crate::bench::BenchOptions {
                width: size.0,
                height: size.1,
                image: image.clone(),
                encoding: *encoding,
                json: *json,
            };
            write!(out, "{}", crate::bench::run(&cli.key, &options)?).ok();
        }
        Command::BenchReader => {
            let fetched = share::fetch(&Endpoint::new(&cli.key)?)?;
            writeln!(out, "{}", crate::bench::stages_line(&fetched.stages)).ok();
        }
    }
    Ok(true)
}

fn put(
    endpoint: &Endpoint,
    path: &Path,
    encoding: Encoding,
    hold_ms: Option<u64>,
    out: &mut dyn Write,
) -> Result<(), ShareError> {
    // Installed first, so a signal that arrives while publishing still ends in a clean detach.
    let (stop_tx, stop_rx) = mpsc::channel();
    let handler = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    });
    if let Err(err) = handler {
        log::warn!(
            "cannot catch Ctrl-C/SIGTERM ({err}); the segment is still reclaimed after exit"
        );
    }
    let key = &endpoint.key;
    let loaded = codec::decode_file(path)?;
    let publication = share::publish(endpoint, &loaded.image, encoding)?;
    let header = &publication.header;
    let notes: Vec<String> = loaded
        .note
        .into_iter()
        .chain(publication.note.clone())
        .collect();
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
    let _ = match hold_ms {
        Some(ms) => stop_rx.recv_timeout(Duration::from_millis(ms)).ok(),
        None => stop_rx.recv().ok(),
    };
    publication.withdraw();
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
    let inspection = share::inspect(endpoint)?;
    if let Some(qt) = &inspection.qt {
        write!(out, "key:        {}\n{}", inspection.key, describe_qt(qt)).ok();
        return Ok(());
    }
    if let Some(qt6) = &inspection.qt6 {
        let segment = match qt6.segment_size {
            Some(size) => format!("{} ({size} bytes)", qt6.segment_path.display()),
            None => "none (nothing is shared under this key)".to_owned(),
        };
        let semaphore = if qt6.semaphore_exists { "" } else { " (none)" };
        writeln!(
            out,
            "key:        {}\nmode:       Qt 6 compatible (POSIX)\nsegment:    {segment}\nsemaphore:  {}{semaphore}",
            inspection.key,
            qt6.semaphore_path.display()
        )
        .ok();
        return Ok(());
    }
    let mut text = format!(
        "key:        {}\nnative key: {}\ndirectory:  {}\nlock:       {}\n",
        inspection.key,
        inspection.native_key,
        inspection.dir.display(),
        inspection.lock_path.display()
    );
    if inspection.segments.is_empty() {
        text.push_str("segments:   none (nothing is shared under this key)\n");
    }
    for (file, header) in &inspection.segments {
        let state = if file.live {
            "live"
        } else {
            "leftover of a dead process (run `shmimage clean`)"
        };
        text.push_str(&format!(
            "segment:    {}\n  state:      {state}\n  generation: {}\n  size:       {} bytes\n",
            file.path.display(),
            file.generation,
            file.size
        ));
        match header {
            Ok(h) => text.push_str(&format!(
                "  encoding:   {}\n  dimensions: {}x{}\n  publisher:  pid {}\n",
                h.encoding, h.width, h.height, h.publisher_pid
            )),
            Err(err) => text.push_str(&format!("  contents:   unreadable: {err}\n")),
        }
    }
    write!(out, "{text}").ok();
    Ok(())
}

/// The System V side of a key in Qt mode, one fact per line.
fn describe_qt(qt: &QtInspection) -> String {
    let key_file = |path: &Path, ipc_key: Option<i32>| match ipc_key {
        Some(ipc_key) => format!("{} (IPC key 0x{ipc_key:08x})", path.display()),
        None => format!("{} (missing)", path.display()),
    };
    let mut text = format!(
        "mode:       Qt-compatible (System V)
shm key:    {}
sem key:    {}
",
        key_file(&qt.shm_key_file, qt.shm_ipc_key),
        key_file(&qt.sem_key_file, qt.sem_ipc_key)
    );
    match qt.semaphore_id {
        Some(id) => text.push_str(&format!(
            "semaphore:  id {id}
"
        )),
        None => text.push_str(
            "semaphore:  none
",
        ),
    }
    match (qt.segment_id, &qt.segment) {
        (Some(id), Some(segment)) => {
            let creator = if segment.creator_alive {
                "running"
            } else {
                "exited"
            };
            let state = match (segment.attached, segment.creator_alive) {
                (0, false) => "leftover of a dead process (the next put or get removes it)",
                (0, true) => "nobody attached",
                _ => "live",
            };
            text.push_str(&format!(
                "segment:    id {id}, {} bytes
  state:      {state}
  attached:   {} process(es)
  creator:    pid {} ({creator})
",
                segment.size, segment.attached, segment.creator_pid
            ));
        }
        _ => text.push_str(
            "segment:    none (nothing is shared under this key)
",
        ),
    }
    text
}

fn clean(out: &mut dyn Write) -> Result<(), ShareError> {
    let dir = SegmentDir::for_current_user()?;
    let removed = shm::clean(&dir)?;
    if removed.is_empty() {
        writeln!(out, "nothing to clean in {}", dir.path().display()).ok();
    }
    for item in removed {
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
