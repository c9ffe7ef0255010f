//! Qt 6's objects (Linux): what Qt 6.6+'s `QSharedMemory` does with a `QNativeIpcKey`, POSIX
//! shared memory `shm_open(key)` and a named semaphore `sem_open(key)`, with glibc the files
//! `/dev/shm/<key>` and `/dev/shm/sem.<key>`.
//!
//! Over 500 lines because, as in `sysv.rs`, the segment and its semaphore are one object, and
//! both live where any user can plant a name, so each is checked before it is trusted.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Qt6Inspection, Replaceable};
use crate::ipc::segment::interrupt::holding_ends;
use crate::ipc::segment::{self, AccessMode, Patience, Segment, SegmentAccess, ShmError};
use crate::ipc::sys::Mapping;
use crate::ipc::sys::posix_semaphore::NamedSemaphore;
use crate::safe_fs::{Entry, OpenFor, classify, open_file, read_at};

/// Where glibc keeps POSIX shared memory and named semaphores.
const POSIX_SHM_DIR: &str = "/dev/shm";

/// `QSharedMemory(QNativeIpcKey(key))` on Linux.
///
/// Checked against Qt 6.12 (PySide6): the same names, the segment exactly the payload's size,
/// the image as `QDataStream << QImage` (marker and PNG, as Qt 5).
///
/// Qt's rules, kept: the semaphore (value 1) is taken around create, attach and every copy,
/// and its creator removes it when done. Where Qt 6 is worse than Qt 5, and what is done
/// instead:
/// - Qt never removes the segment (`detach` only unmaps), and its example then reuses whatever
///   segment is there, cutting a larger image short. Here every publish makes a new segment
///   (the old name is unlinked; whoever has it open keeps it) and the writer removes its own
///   when it stops sharing, so nothing outlives the writer.
/// - Qt's semaphore has no undo: a process killed while holding it leaves it taken for ever.
///   Here a wait lasts at most the lock timeout and then says how to clear it.
pub struct Qt6SharedMemory {
    key: String,
    /// The object's name as glibc's `shm_open` and `sem_open` see it: leading slashes removed.
    name: String,
    segment_path: PathBuf,
    lock_timeout: Duration,
    replaceable: Replaceable,
    /// Asked while the semaphore is waited for (see `shm::Patience`).
    patience: Option<Arc<dyn Patience>>,
    semaphore: Option<OpenSemaphore>,
    attached: Option<Qt6Attachment>,
}

struct OpenSemaphore {
    semaphore: NamedSemaphore,
    /// The inode of `sem.<name>` if this process created it: it removes that name when done,
    /// and only while the name still means the semaphore it made.
    created_inode: Option<u64>,
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
        holding_ends();
    }
}

impl Qt6SharedMemory {
    pub fn new(key: &str) -> Result<Self, ShmError> {
        let name = object_name(key)?;
        Ok(Self {
            key: key.to_owned(),
            segment_path: Path::new(POSIX_SHM_DIR).join(&name),
            name,
            lock_timeout: segment::DEFAULT_LOCK_TIMEOUT,
            replaceable: Replaceable::NOTHING,
            patience: None,
            semaphore: None,
            attached: None,
        })
    }

    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    /// What a live segment must hold for a publish to replace it (else it is refused).
    pub fn set_replaceable(&mut self, replaceable: Replaceable) {
        self.replaceable = replaceable;
    }

    fn semaphore_path(&self) -> PathBuf {
        Path::new(POSIX_SHM_DIR).join(format!("sem.{}", self.name))
    }

    /// What is there under the key now, without opening anything.
    pub fn inspect(&self) -> Qt6Inspection {
        let segment = fs::symlink_metadata(&self.segment_path)
            .ok()
            .filter(|m| m.is_file());
        Qt6Inspection {
            segment: self.segment_path.display().to_string(),
            segment_size: segment.as_ref().map(|m| m.len()),
            // The inode: a new one for every segment created.
            segment_id: segment.as_ref().map(|m| m.ino()),
            semaphore: self.semaphore_path().display().to_string(),
            semaphore_exists: self.semaphore_path().exists(),
        }
    }
}

/// Takes the semaphore (opening or creating it first), waiting at most `timeout` by the
/// monotonic clock. A free function, so that the guard borrows only the semaphore field while
/// the mapping is handed out.
fn acquire<'a>(
    slot: &'a mut Option<OpenSemaphore>,
    name: &str,
    sem_path: &Path,
    timeout: Duration,
    patience: Option<&Arc<dyn Patience>>,
) -> Result<PosixSemaphoreGuard<'a>, ShmError> {
    if slot.is_none() {
        *slot = Some(open_semaphore(name, sem_path)?);
    }
    let slot: &'a Option<OpenSemaphore> = slot;
    let Some(OpenSemaphore { semaphore, .. }) = slot else {
        return Err(ShmError::NotAttached);
    };
    super::take_retrying(
        || semaphore.try_wait(),
        timeout,
        patience,
        |err| ShmError::io("taking Qt 6's semaphore", sem_path, err),
        |waited| taken_too_long(sem_path, waited),
    )?;
    Ok(PosixSemaphoreGuard { semaphore })
}

/// Opens the key's semaphore, creating it (value 1) if it does not exist. An existing one is
/// opened as a file first and mapped only if it is this user's, writable by nobody else and one
/// semaphore long: another user can create any name in /dev/shm, and glibc's `sem_open` would map
/// a planted empty file and die of SIGBUS at the first wait.
fn open_semaphore(name: &str, sem_path: &Path) -> Result<OpenSemaphore, ShmError> {
    let failed = |err| ShmError::io("opening Qt 6's semaphore", sem_path, err);
    // Twice: the name can go between creating and opening it (its creator removes it when done).
    for _ in 0..2 {
        let created = NamedSemaphore::create(name).map_err(failed)?;
        let file = match open_file(sem_path, OpenFor::ReadWrite) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            // A link (never followed), a directory, a FIFO: say what is there, and whose.
            Err(err) => {
                if let Ok(meta) = fs::symlink_metadata(sem_path)
                    && let Entry::Other(what) = classify(&meta.file_type())
                {
                    let why = format!("it is {what} of uid {}", meta.uid());
                    return Err(foreign_semaphore(sem_path, why));
                }
                return Err(failed(err));
            }
        };
        let meta = file.metadata().map_err(failed)?;
        let me = crate::ipc::sys::effective_uid();
        if meta.uid() != me {
            return Err(foreign_semaphore(
                sem_path,
                format!("it belongs to uid {}, not to you (uid {me})", meta.uid()),
            ));
        }
        // glibc makes a semaphore under a temporary name and links it in: one link. More is a
        // hard link to some other file of ours, made by whoever could write /dev/shm.
        if meta.nlink() != 1 {
            return Err(foreign_semaphore(
                sem_path,
                format!(
                    "it has {} names (a hard link to another file)",
                    meta.nlink()
                ),
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(foreign_semaphore(
                sem_path,
                format!(
                    "other users may write it (mode {:o}, where Qt's is 600)",
                    meta.mode() & 0o777
                ),
            ));
        }
        let semaphore = NamedSemaphore::map(&file).map_err(|err| match err.kind() {
            io::ErrorKind::InvalidData => foreign_semaphore(sem_path, err.to_string()),
            _ => failed(err),
        })?;
        return Ok(OpenSemaphore {
            semaphore,
            created_inode: created.then(|| meta.ino()),
        });
    }
    Err(failed(io::Error::other(
        "it kept disappearing while being opened; try again",
    )))
}

/// The sentence for a semaphore file that is not one Qt 6 (or we) could have made for this user.
fn foreign_semaphore(sem_path: &Path, why: String) -> ShmError {
    ShmError::PermissionDenied {
        path: sem_path.to_path_buf(),
        detail: format!(
            "{why}, so it is not Qt 6's semaphore for you and was left alone; use another key, or \
             have its owner (or an administrator) remove it"
        ),
    }
}

/// Qt 6's semaphore records no owner, but the processes that have it open map its file: if none
/// does, whoever took it is dead and it will never be given back.
fn taken_too_long(sem_path: &Path, timeout: Duration) -> ShmError {
    let openers = processes_mapping(sem_path);
    let detail = if openers.is_empty() {
        format!(
            "it has been taken for {timeout:?} and no running process has it open, so a program \
             died while holding it (Qt 6's semaphore has no undo): remove {} and try again",
            sem_path.display()
        )
    } else {
        let names: Vec<String> = openers
            .iter()
            .map(|(pid, name)| format!("pid {pid} ({name})"))
            .collect();
        format!(
            "it has been taken for {timeout:?}; Qt 6's semaphore records no owner, but {} {} it \
             open, so one of them holds it (a busy or stopped program): try again when it lets go, \
             or if none of them is using it, end them or remove {}",
            names.join(", "),
            if names.len() == 1 { "has" } else { "have" },
            sem_path.display()
        )
    };
    ShmError::LockFailed {
        path: sem_path.to_path_buf(),
        source: io::Error::other(detail),
    }
}

/// Other processes (that this user may look at) with `path` mapped, as (pid, command name).
fn processes_mapping(path: &Path) -> Vec<(u32, String)> {
    let Some(path) = path.to_str() else {
        return Vec::new();
    };
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<(u32, String)> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/maps"))
                .is_ok_and(|maps| maps.lines().any(|line| line.ends_with(path)))
        })
        .map(|pid| {
            let name = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            (pid, name.trim().to_owned())
        })
        .collect();
    found.sort();
    found
}

/// Whether the file at `path` starts as Qt writes an image (its marker, then a PNG signature):
/// the only thing a Qt 6 publisher replaces. Read without following a link or waiting on a FIFO.
fn holds_a_qt_image(path: &Path, replaceable: Replaceable) -> bool {
    let mut start = vec![0u8; replaceable.start_len];
    open_file(path, OpenFor::Reading)
        .and_then(|file| read_at(&file, 0, &mut start))
        .is_ok_and(|()| replaceable.accepts(&start))
}

/// Refuses a segment this user does not own (another user can create any name in /dev/shm) and
/// one larger than any image can need, before anything is mapped or allocated.
fn check_ours(path: &Path, meta: &fs::Metadata) -> Result<(), ShmError> {
    let me = crate::ipc::sys::effective_uid();
    if meta.uid() != me {
        return Err(ShmError::PermissionDenied {
            path: path.to_path_buf(),
            detail: format!(
                "it belongs to uid {}, not to you (uid {me}), so it is not trusted and was left alone",
                meta.uid()
            ),
        });
    }
    segment::check_segment_size(meta.len())
}

impl Segment for Qt6SharedMemory {
    fn native_key(&self) -> &str {
        self.segment_path.to_str().unwrap_or_default()
    }

    fn path(&self) -> Option<&Path> {
        self.attached.as_ref().map(|_| self.segment_path.as_path())
    }

    fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError> {
        segment::require_bytes(size)?;
        self.detach();
        let sem_path = self.semaphore_path();
        let guard = acquire(
            &mut self.semaphore,
            &self.name,
            &sem_path,
            self.lock_timeout,
            self.patience.as_ref(),
        )?;
        let path = &self.segment_path;
        // A new segment every time: readers that have the old one keep it, new ones get ours.
        // Only our own is replaced: as root, unlink would remove anyone's.
        if let Ok(meta) = fs::symlink_metadata(path) {
            if meta.uid() != crate::ipc::sys::effective_uid() {
                return Err(ShmError::PermissionDenied {
                    path: path.clone(),
                    detail: format!(
                        "it belongs to uid {}, not to you, so it was left alone; use another key",
                        meta.uid()
                    ),
                });
            }
            if !holds_a_qt_image(path, self.replaceable) {
                return Err(ShmError::PermissionDenied {
                    path: path.clone(),
                    detail: "it does not hold an image as Qt writes one (its marker and a PNG), \
                             so it may be another program's and was left alone; use another key"
                        .to_owned(),
                });
            }
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(ShmError::io("replacing", path, err)),
            }
        }
        let file = open_file(path, OpenFor::CreatingNew)
            .map_err(|err| ShmError::io("creating", path, err))?;
        let cleanup = |err: ShmError| {
            let _ = fs::remove_file(path);
            err
        };
        // Reserved now, so a full /dev/shm is an error here and never SIGBUS later.
        segment::reserve(&file, path, Path::new(POSIX_SHM_DIR), size).map_err(cleanup)?;
        let mapping = Mapping::read_write(&file, size)
            .map_err(|err| cleanup(ShmError::io("mapping", path, err)))?;
        let inode = file.metadata().map(|m| m.ino()).unwrap_or(0);
        let attachment = self.attached.insert(Qt6Attachment {
            file,
            mapping,
            inode,
            created: true,
        });
        Ok(SegmentAccess::new(
            &mut attachment.mapping,
            Some((&attachment.file, self.segment_path.as_path())),
            attachment.inode,
            guard,
        ))
    }

    fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError> {
        if self.attached.is_some() {
            return Ok(());
        }
        let sem_path = self.semaphore_path();
        let _guard = acquire(
            &mut self.semaphore,
            &self.name,
            &sem_path,
            self.lock_timeout,
            self.patience.as_ref(),
        )?;
        let path = &self.segment_path;
        let how = match mode {
            AccessMode::ReadOnly => OpenFor::Reading,
            AccessMode::ReadWrite => OpenFor::ReadWrite,
        };
        let file = match open_file(path, how) {
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
        check_ours(path, &meta)?;
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
        let guard = acquire(
            &mut self.semaphore,
            &self.name,
            &sem_path,
            self.lock_timeout,
            self.patience.as_ref(),
        )?;
        let Some(attachment) = self.attached.as_mut() else {
            return Err(ShmError::NotAttached);
        };
        Ok(SegmentAccess::new(
            &mut attachment.mapping,
            Some((&attachment.file, self.segment_path.as_path())),
            attachment.inode,
            guard,
        ))
    }

    /// Unmaps; a segment we created is removed too (if the name still points to it), so that
    /// nothing outlives the writer, unlike Qt 6 itself. The check and the removal happen under
    /// the semaphore, so a newer publisher cannot replace the segment in between and lose its
    /// own. If the semaphore cannot be had, the segment is left for the next publisher to replace.
    fn detach(&mut self) -> bool {
        let Some(attachment) = self.attached.take() else {
            return false;
        };
        if attachment.created {
            let sem_path = self.semaphore_path();
            match acquire(
                &mut self.semaphore,
                &self.name,
                &sem_path,
                self.lock_timeout,
                self.patience.as_ref(),
            ) {
                Ok(_guard) => {
                    if fs::symlink_metadata(&self.segment_path)
                        .is_ok_and(|m| m.ino() == attachment.inode)
                    {
                        let _ = fs::remove_file(&self.segment_path);
                    }
                }
                Err(err) => log::warn!("left {} in place: {err}", self.segment_path.display()),
            }
        }
        true
    }

    fn size(&self) -> usize {
        self.attached.as_ref().map_or(0, |a| a.mapping.len())
    }

    fn set_patience(&mut self, patience: Option<Arc<dyn Patience>>) {
        self.patience = patience;
    }

    fn describe_segment(&self) -> String {
        format!("POSIX shared memory {}", self.segment_path.display())
    }

    fn describe_lock(&self) -> String {
        format!("POSIX semaphore {}", self.semaphore_path().display())
    }
}

impl Drop for Qt6SharedMemory {
    fn drop(&mut self) {
        self.detach();
        // Like Qt: whoever created the semaphore removes its name when done; but only while the
        // name still means the one it created (someone may have removed it and made another).
        if let Some(OpenSemaphore {
            semaphore,
            created_inode: Some(inode),
        }) = self.semaphore.take()
        {
            drop(semaphore);
            if fs::symlink_metadata(self.semaphore_path()).is_ok_and(|m| m.ino() == inode) {
                let _ = NamedSemaphore::unlink(&self.name);
            }
        }
    }
}

/// The name of the POSIX objects for a Qt 6 key. Qt 6 takes the native key as given, and
/// glibc's `shm_open`/`sem_open` skip leading slashes (Qt's own `platformSafeKey` adds one), so
/// `/x` and `x` name the same object, `/dev/shm/x`. What is left must be one file name inside
/// /dev/shm: anything that would name a path elsewhere is refused.
fn object_name(key: &str) -> Result<String, ShmError> {
    let name = key.trim_start_matches('/');
    let reason = if key.is_empty() {
        Some("the key is empty; type a name such as QSharedMemoryExample")
    } else if name.is_empty() {
        Some("in Qt 6 mode the key names a file in /dev/shm, and slashes alone name none")
    } else if name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        Some(
            "in Qt 6 mode the key names a file in /dev/shm, so after its leading slashes it cannot contain '/' or NUL, nor be '.' or '..'",
        )
    } else if name.starts_with("sem.") {
        Some(
            "in Qt 6 mode the key names a file in /dev/shm, and names starting with \"sem.\" are \
             POSIX semaphores' files (key K's lock is sem.K), so such a key is refused",
        )
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
        None => Ok(name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_slashes_name_the_same_object_and_paths_elsewhere_are_refused() {
        for key in ["x", "/x", "//x"] {
            let shm = Qt6SharedMemory::new(key).unwrap();
            assert_eq!(shm.segment_path, Path::new("/dev/shm/x"), "{key}");
            assert_eq!(shm.semaphore_path(), Path::new("/dev/shm/sem.x"), "{key}");
        }
        for key in [
            "",
            "/",
            "/..",
            "..",
            "a/b",
            "/a/../../etc",
            "a\0b",
            "sem.QSharedMemoryExample",
            "/sem.x",
        ] {
            assert!(Qt6SharedMemory::new(key).is_err(), "{key:?}");
        }
    }
}
