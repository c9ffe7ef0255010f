//! The protocol layer: the example's two slots (publish an image under a key, fetch the image
//! under a key), plus inspecting a key, as one [`Protocol`] per mode. The mode is chosen once,
//! in [`Endpoint::protocol`]; each protocol lives in a module of its own (`native`, on Linux
//! and macOS `qt5` and `qt6`, on Windows `qt_windows`). The CLI and the window use only this module and
//! the codec's types.

mod faults;
mod follow;
pub mod in_place;
pub mod journal;
mod mode;
mod native_key;
/// What `check` measures of this OS's boundaries (the IPC layer's probes, passed up).
pub mod probe {
    pub use crate::ipc::probe::*;
    pub use crate::ipc::segment::LONGEST_FILE_NAME;
}
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
mod qt;
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod qt5;
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod qt6;
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
pub mod qt_rules;
#[cfg(windows)]
mod qt_windows;
mod shmimage;
mod step;
mod steps;

use std::sync::Arc;
use std::time::Duration;

use image::RgbaImage;

use crate::codec::{CodecError, Encoding, Header};
use crate::ipc::segment::ShmError;
use crate::sentence::{Sentence, sentence};

pub use crate::ipc::segment::interrupt::exit_when_released;
pub use crate::ipc::segment::{DIR_ENV, Reclaimed, SegmentDir, native_key_for};
pub use crate::protocol::journal::{
    ProcessJournal, Record, Role, State, Step, describe_death, whose_leftover,
};
pub use faults::{
    BREAK_LOCK_ENV, DAMAGE_AFTER_PUBLISH_ENV, Faults, KEEP_LEFTOVERS_ENV, PAUSE_AFTER_CREATE_ENV,
    PAUSE_MID_COPY_ENV,
};
pub use follow::{ChangeWatch, Follower, fetch_retrying, follow};
pub use mode::{Mode, ModeFacts};
pub use native_key::{RawPublication, native_generation, publish_raw, validate_native_key};
use steps::Recorder;
pub use steps::{Observer, human_duration};

/// The key Qt's example uses, and ours by default.
pub const DEFAULT_KEY: &str = "QSharedMemoryExample";

/// Overrides how long to wait for another process's lock, in milliseconds (read by the CLI).
pub const LOCK_TIMEOUT_ENV: &str = "SHMIMAGE_LOCK_TIMEOUT_MS";

/// `off` turns the protocol journal off (read by the CLI), to measure what it costs.
pub const JOURNAL_ENV: &str = "SHMIMAGE_JOURNAL";

/// Everything that can go wrong while sharing, for the CLI to print and the window to phrase
/// (see [`ShareError::failure`]) without looking into the layers below.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error(transparent)]
    Shm(#[from] ShmError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("{mode} is available on Linux, macOS and Windows only (it uses the objects Qt uses there); use shmimage's own segments here", mode = mode.facts().name)]
    ModeUnavailable { mode: Mode },
    #[error("stepping through was cancelled: the lock was given back and nothing else changed")]
    SteppingCancelled,
    #[error("cannot start following the key: {0}")]
    Follow(String),
    /// A native key (Qt's setNativeKey) that cannot be used, with the sentence that says why.
    #[error("{0}")]
    NativeKey(String),
}

/// The failures the window words in Qt's own terms; everything else it shows as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Nothing is shared under the key (Qt: "Unable to attach to shared memory segment.").
    NothingShared,
    /// A dead writer's leftover was found and removed, so nothing is shared now.
    LeftoverRemoved {
        pid: u32,
    },
    /// The file is not an image at all (Qt: "Selected file is not an image").
    NotAnImage,
    /// The user cancelled a lock wait or a step-through.
    Cancelled,
    Other,
}

impl ShareError {
    /// Something is already there under the name (Qt: "Unable to create shared memory segment.").
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Self::Shm(ShmError::AlreadyExists { .. }))
    }

    pub fn failure(&self) -> Failure {
        match self {
            Self::Shm(ShmError::NotFound { .. }) => Failure::NothingShared,
            Self::Shm(ShmError::LeftoverRemoved { pid, .. }) => {
                Failure::LeftoverRemoved { pid: *pid }
            }
            Self::Codec(CodecError::NotAnImage { .. }) => Failure::NotAnImage,
            Self::SteppingCancelled | Self::Shm(ShmError::Cancelled) => Failure::Cancelled,
            _ => Failure::Other,
        }
    }
}

/// Settings that come from outside (the CLI reads them from the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long to wait for another process's lock before giving up with its name.
    pub lock_timeout: Duration,
    /// What tests and `shmimage check` make go wrong on purpose.
    pub faults: Faults,
    /// Record every step in the protocol journal (see [`JOURNAL_ENV`]).
    pub journal: bool,
}

impl Options {
    /// The lock timeout, the journal switch and the faults, from their environment variables
    /// (the defaults where they are not set).
    pub fn from_env() -> Self {
        Self {
            lock_timeout: faults::env_millis(LOCK_TIMEOUT_ENV)
                .unwrap_or(crate::ipc::segment::DEFAULT_LOCK_TIMEOUT),
            faults: Faults::from_env(),
            journal: !std::env::var(JOURNAL_ENV).is_ok_and(|value| value == "off"),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            lock_timeout: crate::ipc::segment::DEFAULT_LOCK_TIMEOUT,
            faults: Faults::default(),
            journal: true,
        }
    }
}

/// Where images are shared: a key in a segment directory, in one of the modes.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub key: String,
    pub dir: SegmentDir,
    pub mode: Mode,
    pub options: Options,
    /// The window's hand in its own steps: step-through, and cancelling a lock wait.
    pub observer: Option<Arc<dyn Observer>>,
    /// Qt's `setNativeKey`: an object named exactly, made by another framework; it overrides
    /// the key and the mode.
    pub native_key: Option<String>,
    /// The shape of headerless pixels under the native key.
    pub raw: Option<crate::codec::raw::RawShape>,
}

impl Endpoint {
    /// `key` in this user's default directory.
    pub fn new(key: &str) -> Result<Self, ShareError> {
        Ok(Self::in_dir(key, SegmentDir::for_current_user()?))
    }

    pub fn in_dir(key: &str, dir: SegmentDir) -> Self {
        Self {
            key: key.to_owned(),
            dir,
            mode: Mode::Shmimage,
            options: Options::default(),
            observer: None,
            native_key: None,
            raw: None,
        }
    }

    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Qt's `setNativeKey`.
    pub fn with_native_key(mut self, name: &str) -> Self {
        self.native_key = Some(name.to_owned());
        self
    }

    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The protocol of this endpoint's mode: the one place where the mode is decided.
    pub fn protocol(&self) -> Result<Box<dyn Protocol>, ShareError> {
        if let Some(name) = &self.native_key {
            return Ok(Box::new(native_key::NativeKeyProtocol::new(
                name, self.raw,
            )?));
        }
        match self.mode {
            Mode::Shmimage => Ok(Box::new(shmimage::ShmimageProtocol::new(self))),
            #[cfg(any(target_os = "linux", target_os = "macos"))]
            Mode::Qt5 => Ok(Box::new(qt5::Qt5Protocol::new(self))),
            #[cfg(any(target_os = "linux", target_os = "macos"))]
            Mode::Qt6 => Ok(Box::new(qt6::Qt6Protocol::new(self)?)),
            #[cfg(windows)]
            Mode::Qt5 | Mode::Qt6 => Ok(Box::new(qt_windows::QtWindowsProtocol::of_mode(self)?)),
            #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
            mode => Err(ShareError::ModeUnavailable { mode }),
        }
    }
}

/// One way of sharing images under a key: Qt's `loadFromFile` and `loadFromMemory`, and a look
/// at what is there.
pub trait Protocol: Send {
    /// Encode, create a segment sized to it, lock, copy, unlock, stay attached (for as long as
    /// the [`Publication`] lives). A newer publish replaces the image for new readers.
    fn publish(&self, image: &RgbaImage, encoding: Encoding) -> Result<Publication, ShareError>;

    /// Attach, lock, copy out, unlock, detach; then validate the private copy and decode it.
    fn fetch(&self) -> Result<Fetched, ShareError>;

    /// Like [`fetch`](Self::fetch), but a raw image may be copied straight into the buffer that
    /// `landing` offers for it (the window's texture buffer), skipping the decode.
    fn fetch_into(&self, _landing: &mut dyn Landing) -> Result<FetchedInto, ShareError> {
        self.fetch().map(FetchedInto::from)
    }

    /// What is there under the key, without changing anything (leftovers are listed, not
    /// removed).
    fn inspect(&self) -> Result<Inspection, ShareError>;

    /// The generation a reader would get now, if anything is shared: cheap enough to poll.
    fn newest_generation(&self) -> Result<Option<u64>, ShareError>;

    /// Where the OS reports every new publish under the key as a file event (Follow watches it
    /// instead of polling), if this mode has such a place.
    fn change_watch(&self) -> Option<ChangeWatch> {
        None
    }

    /// Qt's `attach()` without the `detach()`: a reader that stays attached, and can copy the
    /// segment out again later (`shmimage check` uses it to show that a segment lives while
    /// someone is attached, and that a newer publish leaves a mapped one untouched).
    fn attach(&self) -> Result<AttachedReader, ShareError>;
}

/// A reader attached to a segment until dropped.
pub struct AttachedReader {
    segment: Box<dyn crate::ipc::segment::Segment>,
}

impl AttachedReader {
    fn new(mut segment: Box<dyn crate::ipc::segment::Segment>) -> Result<Self, ShareError> {
        segment.attach(crate::ipc::segment::AccessMode::ReadOnly)?;
        Ok(Self { segment })
    }

    /// Locks, copies the whole segment out, unlocks; stays attached.
    pub fn copy_out(&mut self) -> Result<Vec<u8>, ShareError> {
        let access = self.segment.lock()?;
        let mut bytes = vec![0u8; access.size()];
        access.read(0, &mut bytes)?;
        Ok(bytes)
    }
}

/// Offers a buffer for a raw image's pixels, so a fetch can land them there in one copy.
pub trait Landing {
    /// A buffer of exactly `header.payload_len` bytes for this raw image, or `None` to have the
    /// image decoded into an [`RgbaImage`] instead.
    fn buffer_for(&mut self, header: &Header) -> Option<Lent<'_>>;
}

/// A landing's buffer, and who is told of each part of it once that part is copied in and
/// checksummed, while it is still in the cache (the window looks for translucent pixels
/// there). shmimage's segments land part by part, in order; a native key's copy, which may be
/// taken again, tells no part.
pub struct Lent<'a> {
    pub bytes: &'a mut [u8],
    pub parts: &'a mut dyn PartLanded,
}

/// Told of each part of a landing's buffer as it lands, in order.
pub trait PartLanded {
    fn landed(&mut self, part: &[u8]);
}

/// Told nothing: a landing that does nothing with the parts.
pub struct NoParts;

impl PartLanded for NoParts {
    fn landed(&mut self, _part: &[u8]) {}
}

/// Time spent in each stage, for the status line and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stages {
    pub encode: Duration,
    pub create: Duration,
    pub attach: Duration,
    pub lock: Duration,
    pub copy: Duration,
    pub checksum: Duration,
    pub decode: Duration,
    pub total: Duration,
}

/// A published image: shared for as long as this value lives (the publisher stays attached).
/// In Qt's modes the header is not in the segment: it describes what was written (a PNG), and
/// its generation is the segment's id.
pub struct Publication {
    pub(crate) segment: Box<dyn crate::ipc::segment::Segment>,
    /// Where the final detach is recorded.
    recorder: Recorder,
    pub header: Header,
    pub segment_size: usize,
    pub stages: Stages,
    /// What was cleaned up on the way, e.g. a crashed Qt writer's segment.
    pub note: Option<String>,
}

impl Publication {
    pub fn native_key(&self) -> &str {
        self.segment.native_key()
    }

    pub fn path(&self) -> Option<&std::path::Path> {
        self.segment.path()
    }

    /// Stops sharing: detaches, and the segment disappears unless a reader is attached.
    pub fn withdraw(self) {
        drop(self);
    }
}

impl Drop for Publication {
    fn drop(&mut self) {
        steps::detach(&self.recorder, self.segment.as_mut());
    }
}

/// A fetched image, with what its header said.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub image: RgbaImage,
    pub header: Header,
    pub segment_size: usize,
    pub stages: Stages,
    /// What was cleaned up on the way, e.g. a crashed Qt writer's segment.
    pub note: Option<String>,
    /// A native key's writer wrote during every copy: the image may be torn (Follow skips it).
    pub may_be_torn: bool,
}

/// A fetch whose raw pixels may already sit in the [`Landing`]'s buffer.
#[derive(Debug, Clone)]
pub struct FetchedInto {
    /// `None` when the pixels were landed in the buffer the landing offered.
    pub decoded: Option<RgbaImage>,
    pub header: Header,
    pub segment_size: usize,
    pub stages: Stages,
    pub note: Option<String>,
    pub may_be_torn: bool,
}

impl From<Fetched> for FetchedInto {
    fn from(fetched: Fetched) -> Self {
        Self {
            decoded: Some(fetched.image),
            header: fetched.header,
            segment_size: fetched.segment_size,
            stages: fetched.stages,
            note: fetched.note,
            may_be_torn: fetched.may_be_torn,
        }
    }
}

/// What `shmimage info` and the window's inspector show about a key: rows of facts, worded once
/// for both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The first row is the key.
    pub rows: Vec<Row>,
}

/// One fact; `depth` 1 rows belong to the depth 0 row above them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub depth: u8,
    pub name: &'static str,
    /// Paths, names and numbers as they are; the protocol's own words in the window's language.
    pub value: Sentence,
}

impl Inspection {
    fn new(key: &str) -> Self {
        Self {
            rows: vec![Row {
                depth: 0,
                name: "key",
                value: Sentence::as_is(key),
            }],
        }
    }

    fn row(&mut self, name: &'static str, value: impl Into<Sentence>) {
        self.rows.push(Row {
            depth: 0,
            name,
            value: value.into(),
        });
    }

    fn detail(&mut self, name: &'static str, value: impl Into<Sentence>) {
        self.rows.push(Row {
            depth: 1,
            name,
            value: value.into(),
        });
    }

    /// The rows as `shmimage info` prints them (in English): `name:` padded to a column, details indented.
    pub fn to_text(&self) -> String {
        self.rows
            .iter()
            .map(|row| {
                let indent = "  ".repeat(usize::from(row.depth));
                format!("{indent}{:<12}{}\n", format!("{}:", row.name), row.value)
            })
            .collect()
    }
}

/// The inspector's word for a key with nothing under it.
fn nothing_shared() -> Sentence {
    sentence!("none (nothing is shared under this key)")
}

/// A size as a person reads it, and exactly: "64.0 MiB (67112960 bytes)".
fn size_in_bytes(bytes: u64) -> Sentence {
    sentence!(
        "%{size} (%{bytes} bytes)",
        size = human_bytes(bytes),
        bytes = bytes
    )
}

/// The same as `endpoint.protocol()?.publish(…)`.
pub fn publish(
    endpoint: &Endpoint,
    image: &RgbaImage,
    encoding: Encoding,
) -> Result<Publication, ShareError> {
    endpoint.protocol()?.publish(image, encoding)
}

/// The same as `endpoint.protocol()?.fetch()`.
pub fn fetch(endpoint: &Endpoint) -> Result<Fetched, ShareError> {
    endpoint.protocol()?.fetch()
}

/// The same as `endpoint.protocol()?.inspect()`.
pub fn inspect(endpoint: &Endpoint) -> Result<Inspection, ShareError> {
    endpoint.protocol()?.inspect()
}

/// The same as `endpoint.protocol()?.newest_generation()`.
pub fn newest_generation(endpoint: &Endpoint) -> Result<Option<u64>, ShareError> {
    endpoint.protocol()?.newest_generation()
}

/// The memory-speed floor for moving `bytes` through a segment (see `shmimage bench`).
pub fn measure_copy_floor(
    dir: &SegmentDir,
    bytes: &[u8],
) -> Result<(Duration, Duration), ShareError> {
    Ok(crate::ipc::segment::measure_copy_floor(dir, bytes)?)
}

/// What `shmimage clean` removed.
#[derive(Debug, Default)]
pub struct Cleaned {
    /// Leftover segments of dead processes.
    pub segments: Vec<Reclaimed>,
    /// Protocol journals of dead processes.
    pub journals: usize,
}

/// Removes what dead processes left in `dir`, for every key (`shmimage clean`): segments, idle
/// lock files, and the protocol journals of dead processes.
pub fn clean(dir: &SegmentDir) -> Result<Cleaned, ShareError> {
    Ok(Cleaned {
        segments: crate::ipc::segment::clean(dir)?,
        journals: crate::protocol::journal::remove_dead(dir.path()),
    })
}

/// What every process recorded under the endpoint's key and mode, oldest process first (for
/// `shmimage trace` and the window's Protocol panel). Never fails: a journal that cannot be
/// read is left out.
pub fn journal(endpoint: &Endpoint) -> Vec<ProcessJournal> {
    let Ok(native_key) = native_key_for(&endpoint.key) else {
        return Vec::new();
    };
    crate::protocol::journal::read(
        endpoint.dir.path(),
        &native_key,
        endpoint.mode.facts().journal_tag,
    )
}

/// "pid N", or what to say when the OS records no publisher (Qt 6's POSIX segments).
pub fn publisher_name(pid: u32) -> String {
    if pid == 0 {
        "an unrecorded process".to_owned()
    } else {
        format!("pid {pid}")
    }
}

pub use crate::limits::human_bytes;
