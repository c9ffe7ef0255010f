//! Named shared memory with Qt's `QSharedMemory` vocabulary and a lifetime that is the same on
//! every OS: a segment exists exactly while some live process is attached to it.
//!
//! How that contract is kept, without ever guessing from PIDs:
//! - Each publish writes a new segment file `<native>.g<generation>.seg` in the private
//!   directory; files are written once and never truncated, so readers that have one mapped
//!   keep a valid mapping while a newer image is published.
//! - Every attached process holds a shared file lock on the segment file it mapped. The OS drops
//!   that lock when the process exits or is killed, so "nobody holds it" means "nobody is
//!   attached": such a file is a leftover and is removed by the next create, attach or detach
//!   (under the key's lock, so never while someone is attaching to it).
//! - The key's lock ([`lock`]) serialises create, attach, detach and every copy.

mod dir;
mod error;
pub mod interrupt;
mod key;
mod lock;
#[cfg(target_os = "linux")]
pub mod qt;
#[cfg(target_os = "linux")]
pub mod qt6;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use dir::{DIR_ENV, SegmentDir};
pub(crate) use dir::{OpenFor, open_file};
pub use error::{SharedMemoryError, ShmError};
pub use key::{native_key_for, validate_native_key};

use crate::codec::MAX_SEGMENT_BYTES;
use crate::sys::Mapping;
use dir::Entry;
use lock::{KeyLock, KeyLockGuard};

/// How long `lock()` waits for another process before giving up.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Qt's `QSharedMemory::AccessMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    ReadOnly,
    ReadWrite,
}

/// One segment file found on disk for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    pub path: PathBuf,
    pub generation: u64,
    pub size: u64,
    /// Some live process is attached (holds the file's shared lock).
    pub live: bool,
}

/// A leftover that [`clean`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclaimed {
    pub path: PathBuf,
    pub size: u64,
}

/// Qt's `QSharedMemory` operations, as both kinds of segment offer them: this project's
/// crash-safe segment files ([`SharedMemory`]) and, on Linux, Qt-compatible System V segments
/// ([`qt::QtSharedMemory`]). Publishing, fetching and the window use only this.
pub trait Segment: Send {
    /// The name the OS knows the segment by (file stem, or Qt's key file path).
    fn native_key(&self) -> &str;
    /// Where the attached segment can be seen on disk, if anywhere.
    fn path(&self) -> Option<&Path>;
    /// Creates a segment of `size` bytes that replaces any current one for new readers, attaches
    /// read-write, and returns with the lock held so the bytes can be filled before anyone looks.
    fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError>;
    /// Attaches to the current segment, as Qt's `attach(mode)`.
    fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError>;
    /// Takes the lock and gives access to the attached segment's bytes while it is held.
    fn lock(&mut self) -> Result<SegmentAccess<'_>, ShmError>;
    /// Detaches, as Qt's `detach()`; false if nothing was attached.
    fn detach(&mut self) -> bool;
    /// Size in bytes of the attached segment (0 when detached).
    fn size(&self) -> usize;
    /// A sentence about something the last create or attach cleaned up, for the status line.
    fn cleanup_note(&self) -> Option<&str> {
        None
    }
    /// The process that created the attached segment, where the OS records it.
    fn creator_pid(&self) -> Option<u32> {
        None
    }
}

impl Segment for SharedMemory {
    fn native_key(&self) -> &str {
        SharedMemory::native_key(self)
    }
    fn path(&self) -> Option<&Path> {
        SharedMemory::path(self)
    }
    fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError> {
        SharedMemory::create_replacing_locked(self, size)
    }
    fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError> {
        SharedMemory::attach(self, mode)
    }
    fn lock(&mut self) -> Result<SegmentAccess<'_>, ShmError> {
        SharedMemory::lock(self)
    }
    fn detach(&mut self) -> bool {
        SharedMemory::detach(self)
    }
    fn size(&self) -> usize {
        SharedMemory::size(self)
    }
}

/// What `shmimage info --qt` and the inspector show in Qt-compatible mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtInspection {
    pub shm_key_file: PathBuf,
    pub sem_key_file: PathBuf,
    pub shm_ipc_key: Option<i32>,
    pub sem_ipc_key: Option<i32>,
    /// The System V id; a new one for every segment created, so it serves as the generation.
    pub segment_id: Option<i32>,
    pub segment_owner_uid: Option<u32>,
    pub segment: Option<QtSegmentState>,
    pub semaphore_id: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QtSegmentState {
    pub size: usize,
    pub attached: u64,
    pub creator_pid: u32,
    pub creator_alive: bool,
}

/// The files of a key in Qt 6 mode, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qt6Inspection {
    pub segment_path: PathBuf,
    /// Size in bytes, if the segment exists.
    pub segment_size: Option<u64>,
    /// The segment's inode: a new one for every segment created, so it serves as the
    /// generation (a Qt 6 writer that reuses its segment in place keeps it).
    pub segment_id: Option<u64>,
    pub semaphore_path: PathBuf,
    pub semaphore_exists: bool,
}

/// Qt's `QSharedMemory`: a key, the segment attached under it (if any), and its lock.
pub struct SharedMemory {
    key: Option<String>,
    native_key: String,
    dir: SegmentDir,
    key_lock: Option<KeyLock>,
    lock_timeout: Duration,
    attached: Option<Attachment>,
    /// Test hook: stop between creating a segment file and reserving its space.
    pause_after_create: Option<Duration>,
}

struct Attachment {
    /// Kept open: its shared lock is what marks this process as attached.
    file: File,
    mapping: Mapping,
    path: PathBuf,
    generation: u64,
}

impl Attachment {
    /// The attachment's bytes while `guard` holds the key's lock.
    fn access<'a>(&'a mut self, guard: KeyLockGuard<'a>) -> SegmentAccess<'a> {
        SegmentAccess {
            generation: self.generation,
            mapping: &mut self.mapping,
            file: Some((&self.file, &self.path)),
            _guard: HeldLock::Key { _held: guard },
        }
    }
}

/// Refuses, before mapping or allocating anything, a segment larger than any image within the
/// limits can need: such a thing was not written by shmimage or Qt (a planted sparse file, say),
/// and copying it out would exhaust memory.
pub(crate) fn check_segment_size(size: u64) -> Result<(), ShmError> {
    if size > MAX_SEGMENT_BYTES {
        return Err(ShmError::InvalidSize {
            size,
            reason: format!(
                "more than any image within the limits can need ({MAX_SEGMENT_BYTES} bytes), so it \
                 was not written by shmimage or Qt's example; it was left alone"
            ),
        });
    }
    Ok(())
}

/// Every kind of segment refuses a size of zero the same way.
pub(crate) fn require_bytes(size: usize) -> Result<(), ShmError> {
    if size == 0 {
        return Err(ShmError::InvalidSize {
            size: 0,
            reason: "a segment needs at least one byte".to_owned(),
        });
    }
    Ok(())
}

impl SharedMemory {
    /// A handle for `key` in this user's segment directory. Nothing is created until
    /// [`create`](Self::create) or [`attach`](Self::attach).
    pub fn new(key: &str) -> Result<Self, ShmError> {
        Self::in_dir(key, SegmentDir::for_current_user()?)
    }

    pub fn in_dir(key: &str, dir: SegmentDir) -> Result<Self, ShmError> {
        let native_key = native_key_for(key)?;
        Ok(Self::with_parts(Some(key.to_owned()), native_key, dir))
    }

    /// Like Qt's `setNativeKey`: the files are named after `native_key` exactly.
    pub fn with_native_key(native_key: &str, dir: SegmentDir) -> Result<Self, ShmError> {
        validate_native_key(native_key)?;
        Ok(Self::with_parts(None, native_key.to_owned(), dir))
    }

    fn with_parts(key: Option<String>, native_key: String, dir: SegmentDir) -> Self {
        Self {
            key,
            native_key,
            dir,
            key_lock: None,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            attached: None,
            pause_after_create: None,
        }
    }

    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    /// Test hook: after creating a segment file, say "paused after create" on stderr and wait
    /// this long before reserving its space, so a test can look at the file in that moment.
    #[doc(hidden)]
    pub fn set_pause_after_create(&mut self, pause: Option<Duration>) {
        self.pause_after_create = pause;
    }

    /// The key as given, or `None` when a native key was set directly.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn native_key(&self) -> &str {
        &self.native_key
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The key for messages: the user's key, or the native key if there is none.
    fn display_key(&self) -> String {
        self.key.clone().unwrap_or_else(|| self.native_key.clone())
    }

    pub fn is_attached(&self) -> bool {
        self.attached.is_some()
    }

    /// Size in bytes of the attached segment (0 when detached), as Qt's `size()`.
    pub fn size(&self) -> usize {
        self.attached.as_ref().map_or(0, |a| a.mapping.len())
    }

    /// Generation of the attached segment: it grows with every publish under this key.
    pub fn generation(&self) -> Option<u64> {
        self.attached.as_ref().map(|a| a.generation)
    }

    /// Path of the attached segment file.
    pub fn path(&self) -> Option<&Path> {
        self.attached.as_ref().map(|a| a.path.as_path())
    }

    pub fn access_mode(&self) -> Option<AccessMode> {
        self.attached.as_ref().map(|a| {
            if a.mapping.is_writable() {
                AccessMode::ReadWrite
            } else {
                AccessMode::ReadOnly
            }
        })
    }

    /// Creates and attaches (read-write) a segment of `size` bytes. Like Qt, fails with
    /// `AlreadyExists` while a live process is attached to one under this key; a dead
    /// process's leftover does not count and is removed first.
    pub fn create(&mut self, size: usize) -> Result<(), ShmError> {
        self.create_segment(size, false)
    }

    /// Creates a new segment even if one exists: readers that attach from now on get the new
    /// one, readers already attached keep theirs. This is how a second publisher replaces the
    /// image without ever truncating a file someone else has mapped.
    pub fn create_replacing(&mut self, size: usize) -> Result<(), ShmError> {
        self.create_segment(size, true)
    }

    /// Like [`create_replacing`](Self::create_replacing), but returns with the lock still held,
    /// so nobody can attach between the creation and the first write. Readers would otherwise see
    /// a live segment that is still all zeros (Qt's example has that window: create, then lock).
    pub fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError> {
        self.create_segment_locked(size, true)
    }

    fn create_segment(&mut self, size: usize, replace: bool) -> Result<(), ShmError> {
        self.create_segment_locked(size, replace).map(drop)
    }

    fn create_segment_locked(
        &mut self,
        size: usize,
        replace: bool,
    ) -> Result<SegmentAccess<'_>, ShmError> {
        require_bytes(size)?;
        self.detach();
        let display_key = self.display_key();
        let (dir, native_key) = (self.dir.path(), self.native_key.as_str());
        let key_lock = open_key_lock(&mut self.key_lock, dir, native_key)?;
        let mut guard = key_lock.acquire(self.lock_timeout)?;
        let files = reclaim_stale(dir, native_key)?;
        if !replace && files.iter().any(|f| f.live) {
            return Err(ShmError::AlreadyExists { key: display_key });
        }
        let newest_on_disk = files.iter().map(|f| f.generation).max().unwrap_or(0);
        let generation = guard.next_generation(newest_on_disk);
        let path = segment_path(dir, native_key, generation);
        let attachment = self.attached.insert(new_segment_file(
            &path,
            dir,
            size,
            generation,
            self.pause_after_create,
        )?);
        Ok(attachment.access(guard))
    }

    /// Attaches to the newest live segment under this key, as Qt's `attach(mode)`. Read-only
    /// attaches map the file read-only.
    pub fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError> {
        if self.attached.is_some() {
            return Ok(());
        }
        let display_key = self.display_key();
        let (dir, native_key) = (self.dir.path(), self.native_key.as_str());
        let key_lock = open_key_lock(&mut self.key_lock, dir, native_key)?;
        let _guard = key_lock.acquire(self.lock_timeout)?;
        let newest = reclaim_stale(dir, native_key)?
            .into_iter()
            .filter(|f| f.live)
            .max_by_key(|f| f.generation)
            .ok_or(ShmError::NotFound { key: display_key })?;
        self.attached = Some(attach_file(&newest, mode)?);
        Ok(())
    }

    /// Detaches, as Qt's `detach()`: returns false if nothing was attached. If this was the last
    /// process attached, the segment is removed.
    pub fn detach(&mut self) -> bool {
        let Some(attachment) = self.attached.take() else {
            return false;
        };
        let path = attachment.path.clone();
        // Closing the file releases our shared lock; after that the file is stale if nobody else
        // holds it, and is removed under the key lock.
        drop(attachment);
        if let Ok(key_lock) = open_key_lock(&mut self.key_lock, self.dir.path(), &self.native_key)
            && let Ok(_guard) = key_lock.acquire(self.lock_timeout)
            && let Err(err) = remove_if_stale(&path)
        {
            log::warn!("could not remove {} after detaching: {err}", path.display());
        }
        true
    }

    /// Takes the key's lock and gives access to the attached segment's bytes while it is held.
    pub fn lock(&mut self) -> Result<SegmentAccess<'_>, ShmError> {
        if self.attached.is_none() {
            return Err(ShmError::NotAttached);
        }
        let key_lock = open_key_lock(&mut self.key_lock, self.dir.path(), &self.native_key)?;
        let Some(attachment) = self.attached.as_mut() else {
            return Err(ShmError::NotAttached);
        };
        let guard = key_lock.acquire(self.lock_timeout)?;
        // The file must still cover the mapping, or touching the lost pages would raise SIGBUS.
        let file_len = attachment.file.metadata().map(|m| m.len()).unwrap_or(0);
        if file_len < attachment.mapping.len() as u64 {
            return Err(ShmError::Tampered {
                path: attachment.path.clone(),
                detail: format!(
                    "it was cut from {} to {file_len} bytes",
                    attachment.mapping.len()
                ),
            });
        }
        Ok(attachment.access(guard))
    }

    /// Every segment file under this key, live or leftover, without changing anything.
    pub fn segment_files(&mut self) -> Result<Vec<SegmentFile>, ShmError> {
        let key_lock = open_key_lock(&mut self.key_lock, self.dir.path(), &self.native_key)?;
        let _guard = key_lock.acquire(self.lock_timeout)?;
        let mut files = list_segment_files(self.dir.path(), &self.native_key)?;
        files.sort_by_key(|f| f.generation);
        Ok(files)
    }

    /// Path of the key's lock file, for display.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.lock", self.native_key))
    }
}

/// Opens the key's lock on first use; a free function so that the borrow covers only that field.
fn open_key_lock<'a>(
    slot: &'a mut Option<KeyLock>,
    dir: &Path,
    native_key: &str,
) -> Result<&'a KeyLock, ShmError> {
    if slot.is_none() {
        *slot = Some(KeyLock::open(dir, native_key)?);
    }
    slot.as_ref().ok_or(ShmError::NotAttached)
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; a leftover is reclaimed by the next user anyway.
        self.detach();
    }
}

/// Access to the segment's bytes while the key's lock is held (Qt's `lock()` … `unlock()`).
/// There is deliberately no `&[u8]` into the segment: bytes are copied in or out, and the copy
/// is what gets validated.
pub struct SegmentAccess<'a> {
    mapping: &'a mut Mapping,
    /// The segment file, if there is one: reads go through it (`pread`) rather than through the
    /// mapping, so the reader's resident memory holds only its private copy, and a file cut
    /// short by another process is a read error instead of SIGBUS.
    file: Option<(&'a File, &'a Path)>,
    generation: u64,
    _guard: HeldLock<'a>,
}

/// The lock behind a [`SegmentAccess`], released when the access is dropped.
pub(crate) enum HeldLock<'a> {
    Key {
        _held: KeyLockGuard<'a>,
    },
    #[cfg(target_os = "linux")]
    Semaphore {
        _held: qt::SemaphoreGuard,
    },
    #[cfg(target_os = "linux")]
    PosixSemaphore {
        _held: qt6::PosixSemaphoreGuard<'a>,
    },
}

impl SegmentAccess<'_> {
    pub fn size(&self) -> usize {
        self.mapping.len()
    }

    /// Generation of the segment (0 in Qt-compatible mode, whose segments have none).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Copies `dst.len()` bytes from `offset` into `dst`.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result<(), ShmError> {
        if let Some((file, path)) = self.file {
            if offset
                .checked_add(dst.len())
                .is_none_or(|end| end > self.size())
            {
                return Err(self.out_of_range(offset, dst.len()));
            }
            return lock::read_at(file, offset as u64, dst).map_err(|err| ShmError::Tampered {
                path: path.to_path_buf(),
                detail: format!("reading it failed ({err}); it was cut short"),
            });
        }
        if self.mapping.copy_out(offset, dst) {
            Ok(())
        } else {
            Err(self.out_of_range(offset, dst.len()))
        }
    }

    /// Copies `src` into the segment at `offset` (read-write attachments only).
    pub fn write(&mut self, offset: usize, src: &[u8]) -> Result<(), ShmError> {
        if !self.mapping.is_writable() {
            return Err(ShmError::ReadOnly);
        }
        if self.mapping.copy_in(offset, src) {
            Ok(())
        } else {
            Err(self.out_of_range(offset, src.len()))
        }
    }

    fn out_of_range(&self, offset: usize, len: usize) -> ShmError {
        ShmError::InvalidSize {
            size: self.size() as u64,
            reason: format!(
                "bytes {offset}..{} lie outside the segment",
                offset.saturating_add(len)
            ),
        }
    }
}

fn segment_path(dir: &Path, native_key: &str, generation: u64) -> PathBuf {
    dir.join(format!("{native_key}.g{generation}.seg"))
}

/// Parses `<native>.g<generation>.seg`, returning the native key and generation.
fn parse_segment_name(name: &str) -> Option<(&str, u64)> {
    let stem = name.strip_suffix(".seg")?;
    let (native_key, generation) = stem.rsplit_once(".g")?;
    let generation = generation.parse().ok().filter(|g| *g > 0)?;
    validate_native_key(native_key).ok()?;
    Some((native_key, generation))
}

/// Lists the segment files of one key with their liveness. Anything at a segment name that is
/// not a regular file (a planted symlink, a directory) is an error rather than skipped, so the
/// user learns about it.
fn list_segment_files(dir: &Path, native_key: &str) -> Result<Vec<SegmentFile>, ShmError> {
    let entries =
        fs::read_dir(dir).map_err(|err| ShmError::io("listing the segment directory", dir, err))?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((owner, generation)) = name.to_str().and_then(parse_segment_name) else {
            continue;
        };
        if owner != native_key {
            continue;
        }
        let path = entry.path();
        if let Entry::Other(what) = dir::entry_at(&path)? {
            return Err(ShmError::Tampered {
                path,
                detail: format!("{what} sits where a segment file should be"),
            });
        }
        let file = match dir::open_file(&path, OpenFor::ReadWrite) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(ShmError::io("opening a segment file", &path, err)),
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let live = is_held(&file, &path)?;
        files.push(SegmentFile {
            path,
            generation,
            size,
            live,
        });
    }
    Ok(files)
}

/// True while some process holds the file's shared "attached" lock. The probe needs a file
/// opened for writing: where `flock` is emulated with `fcntl` locks (NFS), an exclusive probe on
/// a read-only file fails, and such a failure is reported, never taken for "someone holds it"
/// (which would keep every leftover for ever).
fn is_held(file: &File, path: &Path) -> Result<bool, ShmError> {
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(false)
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(err)) => Err(lock::locks_unsupported(path, err)),
    }
}

/// Removes the leftovers of dead processes and returns what is still there. A leftover that
/// cannot be removed (gone already, or held in place by the OS) is logged and passed over: it is
/// not live, so it must not stop anyone from creating or attaching.
fn reclaim_stale(dir: &Path, native_key: &str) -> Result<Vec<SegmentFile>, ShmError> {
    let mut kept = Vec::new();
    for file in list_segment_files(dir, native_key)? {
        if file.live {
            kept.push(file);
            continue;
        }
        match remove_if_stale(&file.path) {
            Ok(true) => {}
            Ok(false) => kept.push(file),
            Err(err) => {
                log::warn!("passing over a leftover that cannot be removed: {err}");
                kept.push(file);
            }
        }
    }
    Ok(kept)
}

/// Removes `path` if no process holds it. Must be called with the key's lock held, so nobody
/// can be between opening the file and locking it. A file already gone counts as removed.
fn remove_if_stale(path: &Path) -> Result<bool, ShmError> {
    let file = match dir::open_file(path, OpenFor::ReadWrite) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(err) => return Err(ShmError::io("opening a segment file", path, err)),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
        Err(std::fs::TryLockError::Error(err)) => return Err(lock::locks_unsupported(path, err)),
    }
    // Removed while we hold the exclusive lock, so nobody can attach in between.
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(err) => Err(ShmError::io("removing a leftover segment", path, err)),
    }
}

fn new_segment_file(
    path: &Path,
    dir: &Path,
    size: usize,
    generation: u64,
    pause_after_create: Option<Duration>,
) -> Result<Attachment, ShmError> {
    let file = dir::open_file(path, OpenFor::CreatingNew)
        .map_err(|err| ShmError::io("creating", path, err))?;
    let cleanup = |err: ShmError| {
        let _ = fs::remove_file(path);
        err
    };
    let mark_live = |file: &File| {
        // Held from now until detach: this is what marks the file as live.
        file.try_lock_shared().map_err(|err| ShmError::LockFailed {
            path: path.to_path_buf(),
            source: err.into(),
        })
    };
    // Unix: live from the moment it is visible, so that nothing that checks liveness (even
    // without the key's lock) can take it for a leftover during the reservation below, which
    // takes hundreds of milliseconds for a large image.
    #[cfg(unix)]
    mark_live(&file).map_err(cleanup)?;
    if let Some(pause) = pause_after_create {
        eprintln!("paused after create");
        std::thread::sleep(pause);
    }
    // Reserve the pages now: on a full /dev/shm this fails here, instead of SIGBUS on first write.
    reserve(&file, path, dir, size).map_err(cleanup)?;
    // Windows: only now, because its byte-range locks are mandatory: a shared lock forbids even
    // its own handle to change the file's length. Windows cannot delete a file that is open, so
    // nobody can remove it meanwhile either.
    #[cfg(windows)]
    mark_live(&file).map_err(cleanup)?;
    let mapping = Mapping::read_write(&file, size)
        .map_err(|err| cleanup(ShmError::io("mapping", path, err)))?;
    Ok(Attachment {
        file,
        mapping,
        path: path.to_path_buf(),
        generation,
    })
}

/// Reserves `size` bytes for the new segment file at `path` in `dir`; a full directory is
/// `OutOfResources`, with the sentence that says what to do.
pub(crate) fn reserve(file: &File, path: &Path, dir: &Path, size: usize) -> Result<(), ShmError> {
    reserve_space(file, size as u64).map_err(|err| match err.raw_os_error() {
        Some(code) if is_out_of_space(code) => ShmError::OutOfResources {
            needed: size as u64,
            dir: dir.to_path_buf(),
            source: err,
        },
        _ => ShmError::io("reserving space for", path, err),
    })
}

/// Gives the new file its full length with every page backed.
#[cfg(unix)]
fn reserve_space(file: &fs::File, len: u64) -> io::Result<()> {
    fs4::FileExt::allocate(file, len)
}

/// Gives the new file its full length. NTFS backs a non-sparse file's length with clusters at
/// once (fs4's `allocate` uses FileAllocationInfo, which Wine does not implement).
#[cfg(windows)]
fn reserve_space(file: &fs::File, len: u64) -> io::Result<()> {
    file.set_len(len)
}

fn is_out_of_space(code: i32) -> bool {
    #[cfg(unix)]
    return code == libc::ENOSPC || code == libc::EDQUOT || code == libc::EFBIG;
    #[cfg(windows)]
    return code == 112 /* ERROR_DISK_FULL */ || code == 39 /* ERROR_HANDLE_DISK_FULL */;
}

fn attach_file(segment: &SegmentFile, mode: AccessMode) -> Result<Attachment, ShmError> {
    let path = &segment.path;
    let how = match mode {
        AccessMode::ReadOnly => OpenFor::Reading,
        AccessMode::ReadWrite => OpenFor::ReadWrite,
    };
    let file = dir::open_file(path, how).map_err(|err| ShmError::io("opening", path, err))?;
    file.try_lock_shared().map_err(|err| ShmError::LockFailed {
        path: path.clone(),
        source: err.into(),
    })?;
    let size = file
        .metadata()
        .map_err(|err| ShmError::io("checking", path, err))?
        .len();
    check_segment_size(size)?;
    let len = usize::try_from(size)
        .ok()
        .filter(|len| *len > 0)
        .ok_or_else(|| ShmError::Tampered {
            path: path.clone(),
            detail: format!("its size of {size} bytes cannot be mapped"),
        })?;
    let mapping = match mode {
        AccessMode::ReadOnly => Mapping::read_only(&file, len),
        AccessMode::ReadWrite => Mapping::read_write(&file, len),
    }
    .map_err(|err| ShmError::io("mapping", path, err))?;
    Ok(Attachment {
        file,
        mapping,
        path: path.clone(),
        generation: segment.generation,
    })
}

/// The memory-speed floor for moving `bytes` through a segment: one copy into a freshly created
/// mapping of that size, one copy out into a fresh buffer. Nothing else (no lock, no header,
/// no checksum, no space reservation), so it is what any implementation must pay at least.
/// Returns the two copy times.
pub fn measure_copy_floor(
    dir: &SegmentDir,
    bytes: &[u8],
) -> Result<(Duration, Duration), ShmError> {
    let path = dir.path().join(format!("floor-{}.tmp", std::process::id()));
    let _ = fs::remove_file(&path);
    let result = (|| {
        let started = std::time::Instant::now();
        let file = dir::open_file(&path, OpenFor::CreatingNew)
            .map_err(|err| ShmError::io("creating", &path, err))?;
        file.set_len(bytes.len() as u64)
            .map_err(|err| ShmError::io("sizing", &path, err))?;
        let mut mapping = Mapping::read_write(&file, bytes.len())
            .map_err(|err| ShmError::io("mapping", &path, err))?;
        mapping.copy_in(0, bytes);
        let copy_in = started.elapsed();
        let started = std::time::Instant::now();
        let mut out = vec![0u8; bytes.len()];
        mapping.copy_out(0, &mut out);
        let copy_out = started.elapsed();
        std::hint::black_box(&out);
        Ok((copy_in, copy_out))
    })();
    let _ = fs::remove_file(&path);
    result
}

/// Removes every leftover of dead processes in `dir`, for all keys (`shmimage clean`), and, on
/// Unix, the lock and state files of keys that have no segment left (see `lock.rs` for why that
/// is safe).
pub fn clean(dir: &SegmentDir) -> Result<Vec<Reclaimed>, ShmError> {
    let entries = fs::read_dir(dir.path())
        .map_err(|err| ShmError::io("listing the segment directory", dir.path(), err))?;
    let mut native_keys: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            let native_key = match parse_segment_name(name) {
                Some((native_key, _)) => native_key,
                None => name
                    .strip_suffix(".lock")
                    .or_else(|| name.strip_suffix(".state"))?,
            };
            validate_native_key(native_key).ok()?;
            Some(native_key.to_owned())
        })
        .collect();
    native_keys.sort();
    native_keys.dedup();
    let mut removed = Vec::new();
    for native_key in native_keys {
        let key_lock = KeyLock::open(dir.path(), &native_key)?;
        let guard = key_lock.acquire(DEFAULT_LOCK_TIMEOUT)?;
        let mut left = 0;
        for file in list_segment_files(dir.path(), &native_key)? {
            if !file.live && remove_if_stale(&file.path)? {
                removed.push(Reclaimed {
                    path: file.path,
                    size: file.size,
                });
            } else {
                left += 1;
            }
        }
        #[cfg(unix)]
        if left == 0 {
            KeyLock::remove_files(guard, &key_lock)
                .map_err(|err| ShmError::io("removing an idle lock file in", dir.path(), err))?;
        }
        #[cfg(windows)]
        let _ = (guard, left);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> (tempfile::TempDir, SegmentDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SegmentDir::at(tmp.path().join("seg")).unwrap();
        (tmp, dir)
    }

    #[test]
    fn attach_fails_when_nothing_is_shared() {
        let (_tmp, dir) = scratch();
        let mut shm = SharedMemory::in_dir("nothing", dir).unwrap();
        let err = shm.attach(AccessMode::ReadOnly).unwrap_err();
        assert_eq!(err.kind(), SharedMemoryError::NotFound);
    }

    #[test]
    fn create_is_exclusive_while_the_creator_lives() {
        let (_tmp, dir) = scratch();
        let mut first = SharedMemory::in_dir("k", dir.clone()).unwrap();
        first.create(10).unwrap();
        let mut second = SharedMemory::in_dir("k", dir.clone()).unwrap();
        assert_eq!(
            second.create(10).unwrap_err().kind(),
            SharedMemoryError::AlreadyExists
        );
        second.create_replacing(20).unwrap();
        assert_eq!(second.generation(), Some(2));
    }

    #[test]
    fn bytes_round_trip_and_last_detach_removes_the_segment() {
        let (_tmp, dir) = scratch();
        let mut writer = SharedMemory::in_dir("k", dir.clone()).unwrap();
        writer.create(5).unwrap();
        writer.lock().unwrap().write(0, b"hello").unwrap();
        let path = writer.path().unwrap().to_path_buf();

        let mut reader = SharedMemory::in_dir("k", dir.clone()).unwrap();
        reader.attach(AccessMode::ReadOnly).unwrap();
        assert_eq!(reader.size(), 5);
        let mut out = [0u8; 5];
        {
            let mut access = reader.lock().unwrap();
            access.read(0, &mut out).unwrap();
            assert_eq!(
                access.write(0, b"x").unwrap_err().kind(),
                SharedMemoryError::PermissionDenied
            );
            assert!(access.read(1, &mut out).is_err());
        }
        assert_eq!(&out, b"hello");
        assert!(reader.detach());
        assert!(path.exists(), "the writer is still attached");
        assert!(writer.detach());
        assert!(!path.exists());
        assert!(!writer.detach());
    }

    #[test]
    fn readers_get_the_newest_live_generation() {
        let (_tmp, dir) = scratch();
        let mut old = SharedMemory::in_dir("k", dir.clone()).unwrap();
        old.create(1).unwrap();
        let mut new = SharedMemory::in_dir("k", dir.clone()).unwrap();
        new.create_replacing(2).unwrap();
        let mut reader = SharedMemory::in_dir("k", dir.clone()).unwrap();
        reader.attach(AccessMode::ReadOnly).unwrap();
        assert_eq!(reader.size(), 2);
        reader.detach();
        drop(new);
        reader.attach(AccessMode::ReadOnly).unwrap();
        assert_eq!(
            reader.size(),
            1,
            "falls back to the older image whose publisher still lives"
        );
    }

    #[test]
    fn a_lock_held_by_another_job_of_this_process_is_named_as_such() {
        let (_tmp, dir) = scratch();
        let mut holder = SharedMemory::in_dir("k", dir.clone()).unwrap();
        holder.create(1).unwrap();
        let _held = holder.lock().unwrap();
        let mut waiter = SharedMemory::in_dir("k", dir).unwrap();
        waiter.set_lock_timeout(Duration::from_millis(50));
        let err = waiter.attach(AccessMode::ReadOnly).unwrap_err();
        assert!(
            err.to_string().contains("another job of this same process"),
            "{err}"
        );
    }

    #[test]
    fn segment_names_parse_only_when_well_formed() {
        assert_eq!(parse_segment_name("abc_12.g7.seg"), Some(("abc_12", 7)));
        assert_eq!(parse_segment_name("abc.g0.seg"), None);
        assert_eq!(parse_segment_name("abc.gx.seg"), None);
        assert_eq!(parse_segment_name(".x.g1.seg"), None);
        assert_eq!(parse_segment_name("abc.lock"), None);
    }
}
