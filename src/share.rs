//! The example's two slots as a library: publish an image under a key, fetch the image under a
//! key. The CLI and the window are thin users of this module.

use std::time::{Duration, Instant};

use image::RgbaImage;

use crate::codec::{self, CodecError, Encoding, HEADER_LEN, Header, header};
use crate::shm::{
    AccessMode, Qt6Inspection, QtInspection, Segment, SegmentAccess, SegmentDir, SegmentFile,
    SharedMemory, ShmError,
};

pub use crate::shm::interrupt::exit_when_released;

/// The key Qt's example uses, and ours by default.
pub const DEFAULT_KEY: &str = "QSharedMemoryExample";

/// Bytes copied between checksum updates: small enough to stay in cache while the CRC reads them.
const CHUNK: usize = 256 * 1024;

/// Test hook: when set to a number of milliseconds, `publish` stops halfway through the copy,
/// says so on stderr, and sleeps that long while holding the lock, so a test can kill it there.
pub const PAUSE_MID_COPY_ENV: &str = "SHMIMAGE_TEST_PAUSE_MID_COPY_MS";

/// Test hook: when set to a number of milliseconds, a native publish stops between creating
/// its segment file and reserving its space, says so on stderr, and sleeps that long.
pub const PAUSE_AFTER_CREATE_ENV: &str = "SHMIMAGE_TEST_PAUSE_AFTER_CREATE_MS";

/// Overrides how long to wait for another process's lock, in milliseconds.
pub const LOCK_TIMEOUT_ENV: &str = "SHMIMAGE_LOCK_TIMEOUT_MS";

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error(transparent)]
    Shm(#[from] ShmError),
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// How images are shared under a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// This project's crash-safe segment files with a checked header.
    #[default]
    Native,
    /// What Qt 5's example does on Linux: System V segment and semaphore, `QDataStream` PNG.
    Qt,
    /// What Qt 6.6+'s example does on Linux (`QNativeIpcKey`): POSIX shared memory and a POSIX
    /// semaphore named after the key, the same `QDataStream` PNG.
    Qt6,
}

impl Mode {
    /// Qt's own formats (marker and PNG) rather than ours.
    pub fn is_qt(self) -> bool {
        matches!(self, Self::Qt | Self::Qt6)
    }
}

/// Where images are shared: a key in a segment directory, natively or the way Qt does.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub key: String,
    pub dir: SegmentDir,
    pub lock_timeout: Duration,
    pub mode: Mode,
}

impl Endpoint {
    /// `key` in this user's default directory.
    pub fn new(key: &str) -> Result<Self, ShareError> {
        Ok(Self::in_dir(key, SegmentDir::for_current_user()?))
    }

    /// `key` in `dir`. The lock timeout is [`DEFAULT_LOCK_TIMEOUT`](crate::shm::DEFAULT_LOCK_TIMEOUT)
    /// unless `SHMIMAGE_LOCK_TIMEOUT_MS` says otherwise.
    pub fn in_dir(key: &str, dir: SegmentDir) -> Self {
        let lock_timeout = std::env::var(LOCK_TIMEOUT_ENV)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(crate::shm::DEFAULT_LOCK_TIMEOUT, Duration::from_millis);
        Self {
            key: key.to_owned(),
            dir,
            lock_timeout,
            mode: Mode::Native,
        }
    }

    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    pub fn shared_memory(&self) -> Result<SharedMemory, ShmError> {
        let mut shm = SharedMemory::in_dir(&self.key, self.dir.clone())?;
        shm.set_lock_timeout(self.lock_timeout);
        shm.set_pause_after_create(pause_from_env(PAUSE_AFTER_CREATE_ENV));
        Ok(shm)
    }

    /// The segment for this endpoint's mode, behind the common interface.
    pub fn segment(&self) -> Result<Box<dyn Segment>, ShmError> {
        match self.mode {
            Mode::Native => Ok(Box::new(self.shared_memory()?)),
            Mode::Qt | Mode::Qt6 => self.qt_shared_memory(),
        }
    }

    #[cfg(target_os = "linux")]
    fn qt_shared_memory(&self) -> Result<Box<dyn Segment>, ShmError> {
        if self.mode == Mode::Qt6 {
            let mut shm = crate::shm::qt6::Qt6SharedMemory::new(&self.key)?;
            shm.set_lock_timeout(self.lock_timeout);
            return Ok(Box::new(shm));
        }
        let mut shm = crate::shm::qt::QtSharedMemory::new(&self.key)?;
        shm.set_lock_timeout(self.lock_timeout);
        Ok(Box::new(shm))
    }

    #[cfg(not(target_os = "linux"))]
    fn qt_shared_memory(&self) -> Result<Box<dyn Segment>, ShmError> {
        Err(ShmError::KeyError {
            key: self.key.clone(),
            reason: "Qt-compatible modes (System V and POSIX as Qt uses them) are available on Linux only"
                .to_owned(),
        })
    }
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
/// In Qt mode the header is not in the segment: it describes what was written (a PNG), and its
/// generation is the System V segment id.
pub struct Publication {
    shm: Box<dyn Segment>,
    pub header: Header,
    pub segment_size: usize,
    pub stages: Stages,
    /// What was cleaned up on the way, e.g. a crashed Qt writer's segment.
    pub note: Option<String>,
}

impl Publication {
    pub fn native_key(&self) -> &str {
        self.shm.native_key()
    }

    pub fn path(&self) -> Option<&std::path::Path> {
        self.shm.path()
    }

    /// Stops sharing: detaches, and the segment disappears unless a reader is attached.
    pub fn withdraw(mut self) {
        self.shm.detach();
    }
}

/// Qt's `loadFromFile` after the dialog: encode, create a segment sized to it, lock, copy,
/// unlock, stay attached. A newer publish under the same key replaces the image for new readers.
pub fn publish(
    endpoint: &Endpoint,
    image: &RgbaImage,
    encoding: Encoding,
) -> Result<Publication, ShareError> {
    let started = Instant::now();
    let mut stages = Stages::default();
    header::check_dimensions(image.width(), image.height())?;
    if endpoint.mode.is_qt() {
        return publish_qt(endpoint, image, started);
    }

    let encoded;
    let payload: &[u8] = match encoding {
        Encoding::Raw => image.as_raw(),
        Encoding::Png => {
            encoded = codec::encode_png(image)?;
            &encoded
        }
    };
    stages.encode = started.elapsed();

    let mut shm = endpoint.shared_memory()?;
    let step = Instant::now();
    // Created and filled under one hold of the lock: no reader can see the segment half-made.
    let mut access = shm.create_replacing_locked(HEADER_LEN + payload.len())?;
    stages.create = step.elapsed();
    let generation = access.generation();

    let step = Instant::now();
    let pause = pause_mid_copy();
    // With the test hook, copy in two halves so there is a "middle" to stop at.
    let chunk_len = if pause.is_some() {
        payload.len().div_ceil(2).max(1)
    } else {
        CHUNK
    };
    let mut crc = crc32fast::Hasher::new();
    for (index, chunk) in payload.chunks(chunk_len).enumerate() {
        if let Some(pause) = pause.filter(|_| index == 1) {
            eprintln!("paused mid-copy");
            std::thread::sleep(pause);
        }
        access.write(HEADER_LEN + index * chunk_len, chunk)?;
        crc.update(chunk);
    }
    let header = Header {
        encoding,
        width: image.width(),
        height: image.height(),
        publisher_pid: std::process::id(),
        payload_len: payload.len() as u64,
        generation,
        payload_crc: crc.finalize(),
    };
    access.write(0, &header.to_bytes())?;
    // The commit word goes last: a reader that sees it knows every byte before it is in place.
    access.write(header::COMMIT_OFFSET, &header::COMMIT_WORD)?;
    let segment_size = access.size();
    drop(access);
    stages.copy = step.elapsed();
    stages.total = started.elapsed();
    Ok(Publication {
        shm: Box::new(shm),
        header,
        segment_size,
        stages,
        note: None,
    })
}

/// Qt's `loadFromFile` to the letter: `QDataStream << QImage` (marker and PNG) into a segment of
/// exactly that size, created and filled under one hold of the semaphore.
fn publish_qt(
    endpoint: &Endpoint,
    image: &RgbaImage,
    started: Instant,
) -> Result<Publication, ShareError> {
    let mut stages = Stages::default();
    let payload = codec::qt::encode(image)?;
    stages.encode = started.elapsed();
    let mut shm = endpoint.segment()?;
    let step = Instant::now();
    let mut access = shm.create_replacing_locked(payload.len())?;
    stages.create = step.elapsed();
    let step = Instant::now();
    access.write(0, &payload)?;
    let header = Header {
        encoding: Encoding::Png,
        width: image.width(),
        height: image.height(),
        publisher_pid: std::process::id(),
        payload_len: payload.len() as u64,
        generation: access.generation(),
        payload_crc: crc32fast::hash(&payload),
    };
    let segment_size = access.size();
    drop(access);
    stages.copy = step.elapsed();
    stages.total = started.elapsed();
    let note = shm.cleanup_note().map(str::to_owned);
    Ok(Publication {
        shm,
        header,
        segment_size,
        stages,
        note,
    })
}

fn pause_mid_copy() -> Option<Duration> {
    pause_from_env(PAUSE_MID_COPY_ENV)
}

fn pause_from_env(variable: &str) -> Option<Duration> {
    let ms = std::env::var(variable).ok()?.parse().ok()?;
    Some(Duration::from_millis(ms))
}

/// "pid N", or what to say when the OS records no publisher (Qt 6's POSIX segments).
pub fn publisher_name(pid: u32) -> String {
    if pid == 0 {
        "an unrecorded process".to_owned()
    } else {
        format!("pid {pid}")
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
}

/// Qt's `loadFromMemory`: attach, lock, copy out, unlock, detach; then validate the private copy
/// and decode it.
pub fn fetch(endpoint: &Endpoint) -> Result<Fetched, ShareError> {
    if endpoint.mode.is_qt() {
        return fetch_qt(endpoint);
    }
    let started = Instant::now();
    let landed = fetch_into(endpoint, |header| vec![0u8; header.payload_len as usize])?;
    let mut stages = landed.stages;
    let step = Instant::now();
    let image = codec::decode_payload(&landed.header, landed.payload)?;
    stages.decode = step.elapsed();
    stages.total = started.elapsed();
    Ok(Fetched {
        image,
        header: landed.header,
        segment_size: landed.segment_size,
        stages,
        note: None,
    })
}

/// A native segment's payload, copied and checksummed, not yet decoded.
pub struct Landed<B> {
    pub payload: B,
    pub header: Header,
    pub segment_size: usize,
    pub stages: Stages,
}

/// The copying half of [`fetch`] (native mode): the header is checked, then the payload is copied
/// once, straight into the buffer `make` returns for that header (it must hold exactly
/// `payload_len` bytes), and its checksum verified. The window uses it to land raw pixels
/// directly in its texture buffer.
pub fn fetch_into<B: AsMut<[u8]>>(
    endpoint: &Endpoint,
    make: impl FnOnce(&Header) -> B,
) -> Result<Landed<B>, ShareError> {
    let started = Instant::now();
    let mut stages = Stages::default();
    let mut shm = endpoint.shared_memory()?;
    let access = attach_and_lock(&mut shm, &mut stages)?;

    let step = Instant::now();
    let segment_size = access.size();
    if segment_size < HEADER_LEN {
        return Err(CodecError::TooShort {
            len: segment_size as u64,
        }
        .into());
    }
    let mut header_bytes = [0u8; HEADER_LEN];
    access.read(0, &mut header_bytes)?;
    let header = Header::parse(&header_bytes, segment_size as u64)?;
    // Header::parse bounded payload_len by the segment size, so this allocation is bounded too.
    let mut payload = make(&header);
    let bytes = payload.as_mut();
    if bytes.len() as u64 != header.payload_len {
        return Err(CodecError::PayloadTooLong {
            claimed: header.payload_len,
            available: bytes.len() as u64,
        }
        .into());
    }
    let mut crc = crc32fast::Hasher::new();
    let mut checksum_time = Duration::ZERO;
    for (index, chunk) in bytes.chunks_mut(CHUNK).enumerate() {
        access.read(HEADER_LEN + index * CHUNK, chunk)?;
        let crc_step = Instant::now();
        crc.update(chunk);
        checksum_time += crc_step.elapsed();
    }
    drop(access);
    shm.detach();
    stages.copy = step.elapsed() - checksum_time;
    stages.checksum = checksum_time;

    let actual = crc.finalize();
    if actual != header.payload_crc {
        return Err(CodecError::ChecksumMismatch {
            expected: header.payload_crc,
            actual,
        }
        .into());
    }
    stages.total = started.elapsed();
    Ok(Landed {
        payload,
        header,
        segment_size,
        stages,
    })
}

/// Qt's `attach(ReadOnly)` then `lock()`, as both kinds of fetch begin, timing each.
fn attach_and_lock<'a>(
    shm: &'a mut dyn Segment,
    stages: &mut Stages,
) -> Result<SegmentAccess<'a>, ShmError> {
    let step = Instant::now();
    shm.attach(AccessMode::ReadOnly)?;
    stages.attach = step.elapsed();
    let step = Instant::now();
    let access = shm.lock()?;
    stages.lock = step.elapsed();
    Ok(access)
}

/// Qt's `loadFromMemory`: attach, lock, copy the whole segment out, unlock, detach, then decode
/// the private copy (`QDataStream >> QImage`).
fn fetch_qt(endpoint: &Endpoint) -> Result<Fetched, ShareError> {
    let started = Instant::now();
    let mut stages = Stages::default();
    let mut shm = endpoint.segment()?;
    let access = attach_and_lock(shm.as_mut(), &mut stages)?;
    let step = Instant::now();
    let segment_size = access.size();
    let generation = access.generation();
    let mut bytes = vec![0u8; segment_size];
    access.read(0, &mut bytes)?;
    if let Some(pause) = pause_mid_copy() {
        eprintln!("paused mid-copy");
        crate::shm::interrupt::sleep_unless_exiting(pause);
    }
    drop(access);
    stages.copy = step.elapsed();
    let publisher_pid = shm.creator_pid().unwrap_or(0);
    let note = shm.cleanup_note().map(str::to_owned);
    shm.detach();
    let step = Instant::now();
    let image = codec::qt::decode(&bytes)?;
    stages.decode = step.elapsed();
    stages.total = started.elapsed();
    let header = Header {
        encoding: Encoding::Png,
        width: image.width(),
        height: image.height(),
        publisher_pid,
        payload_len: segment_size as u64,
        generation,
        payload_crc: crc32fast::hash(&bytes),
    };
    Ok(Fetched {
        image,
        header,
        segment_size,
        stages,
        note,
    })
}

/// The generation a reader would get now, if anything is shared: cheap enough to poll.
pub fn newest_generation(endpoint: &Endpoint) -> Result<Option<u64>, ShareError> {
    match inspect_qt_modes(endpoint)? {
        QtSide::Qt5(qt) => return Ok(qt.segment_id.map(|id| id as u64)),
        QtSide::Qt6(qt6) => return Ok(qt6.segment_id),
        QtSide::None => {}
    }
    let mut shm = endpoint.shared_memory()?;
    Ok(shm
        .segment_files()?
        .iter()
        .filter(|f| f.live)
        .map(|f| f.generation)
        .max())
}

/// What `shmimage info` and the window's inspector show about a key.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub key: String,
    pub native_key: String,
    pub dir: std::path::PathBuf,
    pub lock_path: std::path::PathBuf,
    /// Every segment file of the key, oldest first, each with its header if it could be read.
    pub segments: Vec<(SegmentFile, Result<Header, String>)>,
    /// In Qt mode: the System V side (key files, ids, attach count); `segments` is then empty.
    pub qt: Option<QtInspection>,
    /// In Qt 6 mode: the POSIX segment and semaphore files; `segments` is then empty.
    pub qt6: Option<Qt6Inspection>,
}

impl Inspection {
    /// The segment a reader would get now: the newest live one.
    pub fn current(&self) -> Option<&(SegmentFile, Result<Header, String>)> {
        self.segments.iter().rev().find(|(file, _)| file.live)
    }
}

/// Looks at a key without changing anything (leftovers are listed, not removed).
pub fn inspect(endpoint: &Endpoint) -> Result<Inspection, ShareError> {
    let (segment, lock, qt, qt6) = match inspect_qt_modes(endpoint)? {
        QtSide::Qt5(qt) => (
            qt.shm_key_file.clone(),
            qt.sem_key_file.clone(),
            Some(qt),
            None,
        ),
        QtSide::Qt6(qt6) => (
            qt6.segment_path.clone(),
            qt6.semaphore_path.clone(),
            None,
            Some(qt6),
        ),
        QtSide::None => return inspect_native(endpoint),
    };
    Ok(Inspection {
        key: endpoint.key.clone(),
        native_key: segment.display().to_string(),
        dir: segment.parent().map(Into::into).unwrap_or_default(),
        lock_path: lock,
        segments: Vec::new(),
        qt,
        qt6,
    })
}

fn inspect_native(endpoint: &Endpoint) -> Result<Inspection, ShareError> {
    let mut shm = endpoint.shared_memory()?;
    let files = shm.segment_files()?;
    let segments = files
        .into_iter()
        .map(|file| {
            let header = read_header_of(&file).map_err(|err| err.to_string());
            (file, header)
        })
        .collect();
    Ok(Inspection {
        key: endpoint.key.clone(),
        native_key: shm.native_key().to_owned(),
        dir: shm.dir().to_path_buf(),
        lock_path: shm.lock_path(),
        segments,
        qt: None,
        qt6: None,
    })
}

/// The Qt side of a key in the Qt modes, read without attaching or changing anything.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the Qt modes exist on Linux only
enum QtSide {
    None,
    Qt5(QtInspection),
    Qt6(Qt6Inspection),
}

#[cfg(target_os = "linux")]
fn inspect_qt_modes(endpoint: &Endpoint) -> Result<QtSide, ShareError> {
    use crate::shm::{qt::QtSharedMemory, qt6::Qt6SharedMemory};
    Ok(match endpoint.mode {
        Mode::Native => QtSide::None,
        Mode::Qt => QtSide::Qt5(QtSharedMemory::new(&endpoint.key)?.inspect()),
        Mode::Qt6 => QtSide::Qt6(Qt6SharedMemory::new(&endpoint.key)?.inspect()),
    })
}

/// Elsewhere the Qt modes do not exist: the same error as any other use of them.
#[cfg(not(target_os = "linux"))]
fn inspect_qt_modes(endpoint: &Endpoint) -> Result<QtSide, ShareError> {
    if endpoint.mode.is_qt() {
        endpoint.segment()?;
    }
    Ok(QtSide::None)
}

/// Reads a segment file's header with plain file I/O, without attaching (so that inspecting a
/// leftover does not make it look live).
fn read_header_of(file: &SegmentFile) -> Result<Header, ShareError> {
    use std::io::Read;
    let mut bytes = [0u8; HEADER_LEN];
    // Never through a symlink, never blocking on a FIFO planted after the listing.
    let mut handle =
        crate::shm::open_file(&file.path, crate::shm::OpenFor::Reading).map_err(|err| {
            ShmError::Io {
                action: "opening",
                path: file.path.clone(),
                source: err,
            }
        })?;
    let read = handle.read(&mut bytes).map_err(|err| ShmError::Io {
        action: "reading",
        path: file.path.clone(),
        source: err,
    })?;
    Ok(Header::parse(&bytes[..read], file.size)?)
}
