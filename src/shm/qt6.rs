//! Qt 6 compatible mode (Linux): what Qt 6.6+'s `QSharedMemory` does with a `QNativeIpcKey`
//! (the newer shared-memory example): POSIX shared memory `shm_open(key)` and a POSIX named
//! semaphore `sem_open(key)`. With glibc both are files in /dev/shm: `<key>` and `sem.<key>`.
//! Checked against Qt 6.12 (PySide6): same names, the segment exactly the payload's size, the
//! image as `QDataStream << QImage` (marker and PNG, as Qt 5).
//!
//! Qt's rules, kept: the semaphore (value 1) is taken around create, attach and every copy, and
//! its creator removes it when done. Where Qt 6 is worse than Qt 5, and what we do instead:
//! - Qt never removes the segment (`detach` only unmaps, "we'll simply leak"), and its example
//!   then reuses whatever segment is there, cutting a larger image short. We publish into a new
//!   segment each time (the old name is unlinked; whoever has it open keeps it) and remove ours
//!   when we stop sharing, so nothing outlives the writer.
//! - Qt's semaphore has no undo: a process killed while holding it leaves it taken for ever.
//!   We wait at most the lock timeout and then say how to clear it.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::dir::{self, OpenFor};
use super::{AccessMode, HeldLock, Qt6Inspection, Segment, SegmentAccess, ShmError};
use crate::sys::Mapping;
use crate::sys::posix_semaphore::NamedSemaphore;

/// Where glibc keeps POSIX shared memory and named semaphores.
const POSIX_SHM_DIR: &str = "/dev/shm";

/// `QSharedMemory(QNativeIpcKey(key))` on Linux.
pub struct Qt6SharedMemory {
    key: String,
    segment_path: PathBuf,
    lock_timeout: Duration,
    semaphore: Option<(NamedSemaphore, bool)>,
    attached: Option<Qt6Attachment>,
}

struct Qt6Attachment {
    file: File,
    mapping: Mapping,
    /// The inode, which identifies this segment while its name may be reused.
    inode: u64,
    /// Made by us, so removed by us when we stop sharing.
    created: bool,
}

/// Proof that the semaphore is taken; given back on drop.
pub(crate) struct PosixSemaphoreGuard<'a> {
    semaphore: &'a NamedSemaphore,
}

impl Drop for PosixSemaphoreGuard<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.semaphore.post() {
            log::warn!("could not release the Qt 6 semaphore: {err}");
        }
    }
}

impl Qt6SharedMemory {
    pub fn new(key: &str) -> Result<Self, ShmError> {
        validate(key)?;
        Ok(Self {
            key: key.to_owned(),
            segment_path: Path::new(POSIX_SHM_DIR).join(key),
            lock_timeout: super::DEFAULT_LOCK_TIMEOUT,
            semaphore: None,
            attached: None,
        })
    }

    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    fn semaphore_path(&self) -> PathBuf {
        Path::new(POSIX_SHM_DIR).join(format!("sem.{}", self.key))
    }

    /// What is there under the key now, without opening anything.
    pub fn inspect(&self) -> Qt6Inspection {
        let segment = fs::symlink_metadata(&self.segment_path)
            .ok()
            .filter(|m| m.is_file());
        Qt6Inspection {
            segment_path: self.segment_path.clone(),
            segment_size: segment.as_ref().map(|m| m.len()),
            segment_id: segment.as_ref().map(|m| m.ino()),
            semaphore_path: self.semaphore_path(),
            semaphore_exists: self.semaphore_path().exists(),
        }
    }
}

/// Takes the semaphore (opening or creating it first), waiting at most `timeout`. A free
/// function, so that the guard borrows only the semaphore field while the mapping is handed out.
fn acquire<'a>(
    slot: &'a mut Option<(NamedSemaphore, bool)>,
    key: &str,
    sem_path: &Path,
    timeout: Duration,
) -> Result<PosixSemaphoreGuard<'a>, ShmError> {
    if slot.is_none() {
        let opened = NamedSemaphore::open_or_create(key)
            .map_err(|err| ShmError::io("opening Qt 6's semaphore", sem_path, err))?;
        *slot = Some(opened);
    }
    let slot: &'a Option<(NamedSemaphore, bool)> = slot;
    let Some((semaphore, _)) = slot else {
        return Err(ShmError::NotAttached);
    };
    match semaphore.wait(timeout) {
        Ok(()) => Ok(PosixSemaphoreGuard { semaphore }),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Err(ShmError::LockFailed {
            path: sem_path.to_path_buf(),
            source: io::Error::other(format!(
                "it has been taken for {timeout:?}; Qt 6's semaphore records no owner, so if no \
                 Qt 6 program is running, one crashed while holding it: remove {} and try again",
                sem_path.display()
            )),
        }),
        Err(err) => Err(ShmError::io("taking Qt 6's semaphore", sem_path, err)),
    }
}

impl Segment for Qt6SharedMemory {
    fn native_key(&self) -> &str {
        self.segment_path.to_str().unwrap_or_default()
    }

    fn path(&self) -> Option<&Path> {
        self.attached.as_ref().map(|_| self.segment_path.as_path())
    }

    fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError> {
        super::require_bytes(size)?;
        self.detach();
        let sem_path = self.semaphore_path();
        let guard = acquire(&mut self.semaphore, &self.key, &sem_path, self.lock_timeout)?;
        let path = &self.segment_path;
        // A new segment every time: readers that have the old one keep it, new ones get ours.
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(ShmError::io("replacing", path, err)),
        }
        let file = dir::open_file(path, OpenFor::CreatingNew)
            .map_err(|err| ShmError::io("creating", path, err))?;
        let cleanup = |err: ShmError| {
            let _ = fs::remove_file(path);
            err
        };
        // Reserved now, so a full /dev/shm is an error here and never SIGBUS later.
        super::reserve(&file, path, Path::new(POSIX_SHM_DIR), size).map_err(cleanup)?;
        let mapping = Mapping::read_write(&file, size)
            .map_err(|err| cleanup(ShmError::io("mapping", path, err)))?;
        let inode = file.metadata().map(|m| m.ino()).unwrap_or(0);
        let attachment = self.attached.insert(Qt6Attachment {
            file,
            mapping,
            inode,
            created: true,
        });
        Ok(SegmentAccess {
            generation: attachment.inode,
            mapping: &mut attachment.mapping,
            file: Some((&attachment.file, self.segment_path.as_path())),
            _guard: HeldLock::PosixSemaphore { _held: guard },
        })
    }

    fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError> {
        if self.attached.is_some() {
            return Ok(());
        }
        let sem_path = self.semaphore_path();
        let _guard = acquire(&mut self.semaphore, &self.key, &sem_path, self.lock_timeout)?;
        let path = &self.segment_path;
        let how = match mode {
            AccessMode::ReadOnly => OpenFor::Reading,
            AccessMode::ReadWrite => OpenFor::ReadWrite,
        };
        let file = match dir::open_file(path, how) {
            Ok(file) => file,
            // Missing, or not a regular file (open_file refuses those): nothing is shared.
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::InvalidData
                ) =>
            {
                return Err(ShmError::NotFound {
                    key: self.key.clone(),
                });
            }
            Err(err) => return Err(ShmError::io("opening", path, err)),
        };
        let meta = file
            .metadata()
            .map_err(|err| ShmError::io("checking", path, err))?;
        if meta.len() == 0 {
            return Err(ShmError::NotFound {
                key: self.key.clone(),
            });
        }
        let len = meta.len() as usize;
        let mapping = match mode {
            AccessMode::ReadOnly => Mapping::read_only(&file, len),
            AccessMode::ReadWrite => Mapping::read_write(&file, len),
        }
        .map_err(|err| ShmError::io("mapping", path, err))?;
        self.attached = Some(Qt6Attachment {
            file,
            mapping,
            inode: meta.ino(),
            created: false,
        });
        Ok(())
    }

    fn lock(&mut self) -> Result<SegmentAccess<'_>, ShmError> {
        if self.attached.is_none() {
            return Err(ShmError::NotAttached);
        }
        let sem_path = self.semaphore_path();
        let guard = acquire(&mut self.semaphore, &self.key, &sem_path, self.lock_timeout)?;
        let Some(attachment) = self.attached.as_mut() else {
            return Err(ShmError::NotAttached);
        };
        Ok(SegmentAccess {
            generation: attachment.inode,
            mapping: &mut attachment.mapping,
            file: Some((&attachment.file, self.segment_path.as_path())),
            _guard: HeldLock::PosixSemaphore { _held: guard },
        })
    }

    /// Unmaps; a segment we created is removed too (if the name still points to it), so that
    /// nothing outlives the writer, unlike Qt 6 itself.
    fn detach(&mut self) -> bool {
        let Some(attachment) = self.attached.take() else {
            return false;
        };
        if attachment.created
            && fs::symlink_metadata(&self.segment_path).is_ok_and(|m| m.ino() == attachment.inode)
        {
            let _ = fs::remove_file(&self.segment_path);
        }
        true
    }

    fn size(&self) -> usize {
        self.attached.as_ref().map_or(0, |a| a.mapping.len())
    }
}

impl Drop for Qt6SharedMemory {
    fn drop(&mut self) {
        self.detach();
        // Like Qt: whoever created the semaphore removes its name when done.
        if let Some((semaphore, true)) = self.semaphore.take() {
            drop(semaphore);
            let _ = NamedSemaphore::unlink(&self.key);
        }
    }
}

/// Qt 6 takes the native key as given; with glibc it must be a single file name.
fn validate(key: &str) -> Result<(), ShmError> {
    let name = key.strip_prefix('/').unwrap_or(key);
    let reason = if name.is_empty() {
        Some("the key is empty; type a name such as QSharedMemoryExample")
    } else if name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        Some("in Qt 6 mode the key names a file in /dev/shm, so it cannot contain '/' or NUL")
    } else if name.len() > 250 {
        Some("in Qt 6 mode the key names a file in /dev/shm, so it is limited to 250 bytes")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ShmError::KeyError {
            key: key.to_owned(),
            reason: reason.to_owned(),
        }),
        None => Ok(()),
    }
}
