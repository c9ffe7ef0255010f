//! Named shared memory with Qt's `QSharedMemory` vocabulary and a lifetime that is the same on
//! every OS: a segment exists exactly while some live process is attached to it.
//!
//! The contract is kept without ever guessing from PIDs: every attached process holds a shared
//! file lock on the segment file it mapped, and the OS drops it when the process ends, however
//! it ends. A file nobody holds is a leftover, removed by the next create, attach or detach.

mod access;
mod dir;
mod error;
mod files;
mod interface;
pub mod interrupt;
mod key;
mod lock;
mod patience;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use access::SegmentAccess;
pub use dir::{DIR_ENV, SegmentDir};
pub use error::{SharedMemoryError, ShmError};
pub use interface::Segment;
// Qt 6 mode reserves its POSIX segments the same way (Linux).
#[cfg(target_os = "linux")]
pub(crate) use files::reserve;
pub(crate) use files::tidy_idle_keys;
pub use files::{LONGEST_FILE_NAME, clean, measure_copy_floor};
use files::{
    attach_file, list_segment_files, new_segment_file, reclaim_stale, remove_if_stale, segment_path,
};
pub use key::{native_key_for, validate_native_key};
pub(crate) use patience::Waiting;
pub use patience::{Patience, Verdict};

use crate::ipc::sys::Mapping;
use crate::limits::MAX_SEGMENT_BYTES;
pub(crate) use lock::{KeyLock, KeyLockGuard};

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

/// Qt's `QSharedMemory`: a key, the segment attached under it (if any), and its lock.
///
/// Each publish writes a new segment file `<native>.g<generation>.seg` in the private
/// directory; files are written once and never truncated, so readers that have one mapped keep
/// a valid mapping while a newer image is published. The key's lock (`lock.rs`) serialises
/// create, attach, detach and every copy, so a leftover is never removed while someone is
/// attaching to it.
pub struct SharedMemory {
    key: Option<String>,
    native_key: String,
    dir: SegmentDir,
    key_lock: Option<KeyLock>,
    lock_timeout: Duration,
    attached: Option<Attachment>,
    /// Test hook: stop between creating a segment file and reserving its space.
    pause_after_create: Option<Duration>,
    /// Test switch: break the leftover-removal guarantee (see `set_keep_leftovers`).
    keep_leftovers: bool,
    /// Asked while create, attach and lock wait for the lock.
    patience: Option<Arc<dyn Patience>>,
    /// What the last create or attach removed (a dead process's leftover).
    cleanup_note: Option<String>,
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
        SegmentAccess::new(
            &mut self.mapping,
            Some((&self.file, &self.path)),
            self.generation,
            guard,
        )
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
    /// A handle for `key` in this user's segment directory (`SHMIMAGE_DIR` if set, as for the
    /// CLI and the window). Nothing is created until [`create`](Self::create) or
    /// [`attach`](Self::attach).
    pub fn new(key: &str) -> Result<Self, ShmError> {
        Self::in_dir(key, SegmentDir::from_env_or_default()?)
    }

    /// Like [`new`](Self::new), in `dir`.
    ///
    /// The article's writer and reader, in one process for brevity (`examples/` runs them as
    /// two processes):
    /// ```
    /// use shmimage::ipc::segment::{AccessMode, SegmentDir, SharedMemory};
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let dir = SegmentDir::at(tmp.path().join("segments"))?;
    ///
    /// let mut writer = SharedMemory::in_dir("QSharedMemoryExample", dir.clone())?;
    /// writer.create(5)?;
    /// let mut memory = writer.lock()?;
    /// memory.write(0, b"hello")?;
    /// memory.unlock();
    ///
    /// let mut reader = SharedMemory::in_dir("QSharedMemoryExample", dir)?;
    /// reader.attach(AccessMode::ReadOnly)?;
    /// let memory = reader.lock()?;
    /// let mut copy = [0; 5];
    /// memory.read(0, &mut copy)?;
    /// memory.unlock();
    /// reader.detach();
    /// assert_eq!(&copy, b"hello");
    /// # Ok::<(), shmimage::ipc::segment::ShmError>(())
    /// ```
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
            keep_leftovers: false,
            patience: None,
            cleanup_note: None,
        }
    }

    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    /// What create, attach and lock ask while they wait for the lock (see [`Patience`]).
    pub fn set_patience(&mut self, patience: Option<Arc<dyn Patience>>) {
        self.patience = patience;
    }

    /// Test hook: after creating a segment file, say "paused after create" on stderr and wait
    /// this long before reserving its space, so a test can look at the file in that moment.
    #[doc(hidden)]
    pub fn set_pause_after_create(&mut self, pause: Option<Duration>) {
        self.pause_after_create = pause;
    }

    /// Test switch: never remove a dead process's leftover (a detaching process still removes
    /// its own segment), breaking that one guarantee on purpose so a test can see
    /// `shmimage check` catch it.
    #[doc(hidden)]
    pub fn set_keep_leftovers(&mut self, keep: bool) {
        self.keep_leftovers = keep;
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
        let mut guard = key_lock.acquire_with(self.lock_timeout, self.patience.as_ref())?;
        let (files, note) = reclaim(dir, native_key, self.keep_leftovers)?;
        self.cleanup_note = note;
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
        let _guard = key_lock.acquire_with(self.lock_timeout, self.patience.as_ref())?;
        let (files, note) = reclaim(dir, native_key, self.keep_leftovers)?;
        self.cleanup_note = note;
        let newest = files
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
        let guard = key_lock.acquire_with(self.lock_timeout, self.patience.as_ref())?;
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

/// The key's segment files, with dead processes' leftovers removed first (unless the test switch
/// keeps them).
/// Also says what was removed, as a sentence for the protocol journal.
fn reclaim(
    dir: &Path,
    native_key: &str,
    keep_leftovers: bool,
) -> Result<(Vec<SegmentFile>, Option<String>), ShmError> {
    if keep_leftovers {
        return Ok((list_segment_files(dir, native_key)?, None));
    }
    let (kept, removed) = reclaim_stale(dir, native_key)?;
    let note = (!removed.is_empty()).then(|| {
        let names: Vec<String> = removed
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        format!(
            "removed the leftover of a dead process (nobody held it): {}",
            names.join(", ")
        )
    });
    Ok((kept, note))
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

#[cfg(test)]
mod tests;
