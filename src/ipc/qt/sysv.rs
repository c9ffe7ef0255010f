//! Qt 5's objects (Linux, and macOS where it has not run yet): the System V segment and
//! semaphore that `QSharedMemory` and `QSystemSemaphore` use, named exactly as Qt names them, so
//! that shmimage and Qt's own example exchange images (`QT_IPC_SPEC.md` in the project's shared
//! notes has the details; `QT_IPC_SPEC_WINDOWS_MACOS.md`, 3.1 and 3.3, what differs on macOS).
//!
//! Over 500 lines because Qt's segment and semaphore are one object here, as in Qt: create,
//! attach and detach take the semaphore and decide about the segment together.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::Replaceable;
use crate::ipc::segment::{self, AccessMode, Patience, Segment, SegmentAccess, ShmError, Waiting};
use crate::ipc::sys::Mapping;
use crate::ipc::sys::sysv::{self, Attached};
use crate::platform::Os;

pub use super::{SEMAPHORE_PREFIX, SHARED_MEMORY_PREFIX};
/// ftok's project id in Qt 5 (and `QNativeIpcKey::Type::SystemV` in Qt 6).
const PROJECT_ID: u8 = b'Q';
const PRIVATE: libc::c_int = 0o600;

/// Qt's `QDir::tempPath()` ([`crate::platform::qt_temp_dir`]), with symlinks resolved.
/// Both sides must see the same directory to meet.
pub fn qt_temp_dir() -> PathBuf {
    let tmpdir = std::env::var_os("TMPDIR");
    #[cfg(target_os = "macos")]
    let darwin_temp = crate::ipc::sys::darwin_user_dir(false);
    #[cfg(not(target_os = "macos"))]
    let darwin_temp: Option<PathBuf> = None;
    let dir =
        crate::platform::qt_temp_dir(Os::current(), tmpdir.as_deref(), darwin_temp.as_deref());
    // Qt's canonicalPath() is empty for a missing directory, which makes the key "/qipc_…".
    fs::canonicalize(&dir).unwrap_or_else(|_| PathBuf::from("/"))
}

/// Qt 5's key file: [`platform_safe_key`](super::platform_safe_key) in Qt's temporary directory.
pub fn qt_key_file(key: &str, prefix: &str, temp_dir: &Path) -> Result<PathBuf, ShmError> {
    Ok(temp_dir.join(super::platform_safe_key(key, prefix)?))
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

/// `QSharedMemory` in Qt 5's System V flavour.
///
/// Qt's rules, kept: key files `<tmp>/qipc_sharedmemory_<letters><sha1>` and
/// `<tmp>/qipc_systemsem_<letters><sha1>`, IPC keys `ftok(file, 'Q')`, permissions 0600, the
/// semaphore taken with `SEM_UNDO` around create, attach, detach and every copy, and the
/// segment removed by whoever detaches last.
///
/// Better than Qt: a segment nobody is attached to whose creator is dead (a crashed writer) is
/// a leftover. Qt's `create` fails on it forever ("Unable to create shared memory segment.");
/// here it is removed, and [`Segment::cleanup_note`] says so. A second writer replaces a live
/// image (the old segment is marked for removal and lives on for whoever is attached to it).
/// Unlike Qt, opening the semaphore never resets a value another process holds.
pub struct QtSharedMemory {
    key: String,
    shm_key_file: PathBuf,
    sem_key_file: PathBuf,
    lock_timeout: Duration,
    replaceable: Replaceable,
    /// Asked while the semaphore is waited for (see `shm::Patience`).
    patience: Option<Arc<dyn Patience>>,
    semaphore: Option<Semaphore>,
    attached: Option<QtAttachment>,
    cleanup_note: Option<String>,
}

struct QtAttachment {
    mapping: Mapping,
    ipc_key: libc::key_t,
    /// The System V id; a new one for every segment created, so it serves as the generation.
    id: i32,
    creator_pid: u32,
}

/// The key's System V semaphore. If this process created it (or created a segment under it), it
/// removes it when done, as Qt does (Qt peers re-create it on their next lock).
struct Semaphore {
    id: i32,
    created: bool,
}

/// Proof that the semaphore is taken; given back on drop.
pub(crate) struct SemaphoreGuard {
    id: i32,
}

impl Drop for SemaphoreGuard {
    fn drop(&mut self) {
        match sysv::sem_change(self.id, 1, Duration::from_secs(1)) {
            Ok(()) => {}
            // Removed while held: Qt removes a semaphore when the process that created it
            // detaches, whoever holds it (its peers make it again at their next lock), so
            // there is nothing left to give back. A publisher writes only into a segment it has
            // just created, never into the one being read.
            Err(err) if matches!(err.raw_os_error(), Some(libc::EINVAL | libc::EIDRM)) => {
                log::debug!("the Qt semaphore was removed while held (as Qt does): {err}");
            }
            // SEM_UNDO gives it back when this process exits anyway.
            Err(err) => log::warn!("could not release the Qt semaphore: {err}"),
        }
    }
}

impl QtSharedMemory {
    /// A handle for `key`, named as a Qt process with the same `$TMPDIR` names it.
    pub fn new(key: &str) -> Result<Self, ShmError> {
        Self::in_temp_dir(key, &qt_temp_dir())
    }

    pub fn in_temp_dir(key: &str, temp_dir: &Path) -> Result<Self, ShmError> {
        Ok(Self {
            key: key.to_owned(),
            shm_key_file: qt_key_file(key, SHARED_MEMORY_PREFIX, temp_dir)?,
            sem_key_file: qt_key_file(key, SEMAPHORE_PREFIX, temp_dir)?,
            lock_timeout: segment::DEFAULT_LOCK_TIMEOUT,
            replaceable: Replaceable::NOTHING,
            patience: None,
            semaphore: None,
            attached: None,
            cleanup_note: None,
        })
    }

    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    /// What a live segment must hold for a publish to replace it (else it is refused).
    pub fn set_replaceable(&mut self, replaceable: Replaceable) {
        self.replaceable = replaceable;
    }

    pub fn shm_key_file(&self) -> &Path {
        &self.shm_key_file
    }

    pub fn sem_key_file(&self) -> &Path {
        &self.sem_key_file
    }

    /// What is there under the key now, without attaching or changing anything.
    pub fn inspect(&self) -> QtInspection {
        let shm_ipc_key = sysv::ftok(&self.shm_key_file, PROJECT_ID).ok();
        let segment = shm_ipc_key
            .and_then(|key| sysv::shm_get(key, 0, 0).ok())
            .and_then(|id| sysv::shm_stat(id).ok().map(|stat| (id, stat)));
        let sem_ipc_key = sysv::ftok(&self.sem_key_file, PROJECT_ID).ok();
        let semaphore_id = sem_ipc_key.and_then(|key| sysv::sem_get(key, 0).ok());
        QtInspection {
            shm_key_file: self.shm_key_file.clone(),
            sem_key_file: self.sem_key_file.clone(),
            shm_ipc_key,
            sem_ipc_key,
            segment_id: segment.map(|(id, _)| id),
            segment_owner_uid: segment.map(|(_, stat)| stat.owner_uid),
            segment: segment.map(|(_, stat)| QtSegmentState {
                size: stat.size,
                attached: stat.attached,
                creator_pid: stat.creator_pid,
                creator_alive: process_alive(stat.creator_pid),
            }),
            semaphore_id,
        }
    }

    fn open_semaphore(&mut self) -> Result<i32, ShmError> {
        if let Some(semaphore) = &self.semaphore {
            return Ok(semaphore.id);
        }
        create_key_file(&self.sem_key_file)?;
        let ipc_key = ftok(&self.sem_key_file)?;
        let semaphore = match sysv::sem_get(ipc_key, libc::IPC_CREAT | libc::IPC_EXCL | PRIVATE) {
            Ok(id) => {
                // We made it, so it starts at 0 (taken) until we set it free, as Qt does.
                sysv::sem_set_value(id, 1).map_err(|err| self.sem_error(err))?;
                Semaphore { id, created: true }
            }
            Err(err) if err.raw_os_error() == Some(libc::EEXIST) => {
                let id = sysv::sem_get(ipc_key, 0).map_err(|err| self.sem_error(err))?;
                // ftok keeps 16 bits of the inode, so another program's semaphore can sit at
                // our IPC key: taking it would lock that program out, removing it would break it.
                let stat = sysv::sem_stat(id).map_err(|err| self.sem_error(err))?;
                if !owned_privately(stat.owner_uid, stat.mode) || stat.count != 1 {
                    return Err(self.collision(
                        "semaphore",
                        id,
                        format!(
                            "it belongs to uid {} with mode {:o} and {} semaphores, where Qt's is \
                             yours, 0600, with one",
                            stat.owner_uid, stat.mode, stat.count
                        ),
                    ));
                }
                Semaphore { id, created: false }
            }
            Err(err) => return Err(self.sem_error(err)),
        };
        let id = semaphore.id;
        self.semaphore = Some(semaphore);
        Ok(id)
    }

    /// Takes the semaphore, waiting at most the lock timeout. If another process removed it
    /// meanwhile (a Qt process that created it exits), opens it again and retries once, as Qt does.
    /// The wait is cut into slices, so that its patience is asked now and then.
    fn acquire(&mut self) -> Result<SemaphoreGuard, ShmError> {
        let patience = self.patience.clone();
        let mut waiting = Waiting::new(self.lock_timeout, patience.as_ref());
        let mut reopened = false;
        loop {
            let id = self.open_semaphore()?;
            let last_pid = || sysv::sem_last_pid(id).ok().filter(|pid| *pid != 0);
            match sysv::sem_change(id, -1, waiting.slice()) {
                Ok(()) => {
                    return Ok(SemaphoreGuard { id });
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    if waiting.go_on(last_pid)? {
                        continue;
                    }
                    let holder = last_pid();
                    return Err(ShmError::LockTimeout {
                        holder,
                        holder_is_this_process: holder == Some(std::process::id()),
                        waited: waiting.waited(),
                    });
                }
                Err(err) if matches!(err.raw_os_error(), Some(libc::EIDRM | libc::EINVAL)) => {
                    if reopened {
                        return Err(ShmError::LockFailed {
                            path: self.sem_key_file.clone(),
                            source: io::Error::other("the semaphore kept disappearing"),
                        });
                    }
                    reopened = true;
                    self.semaphore = None;
                }
                Err(err) => return Err(self.sem_error(err)),
            }
        }
    }

    fn sem_error(&self, err: io::Error) -> ShmError {
        ShmError::io("using the Qt semaphore of", &self.sem_key_file, err)
    }

    fn collision(&self, what: &'static str, id: i32, detail: String) -> ShmError {
        ShmError::Collision {
            key: self.key.clone(),
            what,
            id,
            detail,
        }
    }

    /// Refuses a segment that is not this user's 0600 one: ftok keeps only 16 bits of the key
    /// file's inode, so another program's segment can sit at our IPC key.
    fn check_ours(&self, id: i32, stat: sysv::ShmStat) -> Result<(), ShmError> {
        if !owned_privately(stat.owner_uid, stat.mode) {
            return Err(self.collision(
                "segment",
                id,
                format!(
                    "it belongs to uid {} with mode {:o}, where Qt's is yours with mode 600",
                    stat.owner_uid, stat.mode
                ),
            ));
        }
        segment::check_segment_size(stat.size as u64)
    }

    /// Removes a segment that nobody is attached to and whose creator is dead, with its key
    /// file; says so in the cleanup note. Returns whether it did. Call with the semaphore held,
    /// and only on a segment [`check_ours`](Self::check_ours) accepted.
    fn remove_if_leftover(&mut self, id: i32, stat: sysv::ShmStat) -> bool {
        if stat.attached != 0 || process_alive(stat.creator_pid) {
            return false;
        }
        if sysv::shm_remove(id).is_err() {
            return false;
        }
        self.cleanup_note = Some(format!(
            "removed the segment left behind by pid {}, which had exited without detaching \
             (Qt's example would report \"Unable to create shared memory segment.\")",
            stat.creator_pid
        ));
        true
    }

    fn create_locked(&mut self, size: usize) -> Result<(QtAttachment, SemaphoreGuard), ShmError> {
        let guard = self.acquire()?;
        create_key_file(&self.shm_key_file)?;
        let ipc_key = ftok(&self.shm_key_file)?;
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | PRIVATE;
        let id = match sysv::shm_get(ipc_key, size, flags) {
            Err(err) if already_exists(&err, ipc_key) => {
                let old =
                    sysv::shm_get(ipc_key, 0, 0).map_err(|err| self.shm_error("opening", err))?;
                let stat = sysv::shm_stat(old).map_err(|err| self.shm_error("checking", err))?;
                self.check_ours(old, stat)?;
                if !self.remove_if_leftover(old, stat) {
                    // A live image: replace it, but only if it is one (ours, in Qt's format).
                    // Removal only takes its key away; whoever is attached keeps reading it until
                    // they detach.
                    if !holds_a_qt_image(old, stat.size, self.replaceable) {
                        return Err(self.collision(
                            "segment",
                            old,
                            format!(
                                "pid {} is attached to it and it does not hold an image in Qt's format",
                                stat.creator_pid
                            ),
                        ));
                    }
                    sysv::shm_remove(old).map_err(|err| self.shm_error("replacing", err))?;
                    self.cleanup_note = Some(format!(
                        "replaced the image shared by pid {}",
                        stat.creator_pid
                    ));
                }
                sysv::shm_get(ipc_key, size, flags)
            }
            other => other,
        }
        .map_err(|err| self.create_error(size, err))?;
        let attached =
            Attached::attach(id, size, true).map_err(|err| self.shm_error("attaching", err))?;
        let attachment = QtAttachment {
            mapping: Mapping::SystemV(attached),
            ipc_key,
            id,
            creator_pid: std::process::id(),
        };
        Ok((attachment, guard))
    }

    fn create_error(&self, size: usize, err: io::Error) -> ShmError {
        match err.raw_os_error() {
            Some(libc::EINVAL) => ShmError::InvalidSize {
                size: size as u64,
                reason: super::sysv_size_limit(Os::current(), sysv::shm_max(), size as u64),
            },
            Some(libc::ENOSPC | libc::ENOMEM) => ShmError::OutOfResources {
                needed: size as u64,
                dir: self.shm_key_file.clone(),
                source: err,
                available: None,
            },
            _ => self.shm_error("creating", err),
        }
    }

    fn shm_error(&self, action: &'static str, err: io::Error) -> ShmError {
        ShmError::io(action, &self.shm_key_file, err)
    }

    /// What Qt's own `create(size)` does, and nothing more: `shmget` with `IPC_EXCL` under the
    /// semaphore, never removing anything first. `Ok` if Qt's create would succeed now (the probe
    /// segment is removed again at once), `AlreadyExists` if Qt would say "Unable to create
    /// shared memory segment." (`shmimage check` shows Qt's rules with it).
    pub fn create_as_qt_does(&mut self, size: usize) -> Result<(), ShmError> {
        let _guard = self.acquire()?;
        create_key_file(&self.shm_key_file)?;
        let ipc_key = ftok(&self.shm_key_file)?;
        match sysv::shm_get(ipc_key, size, libc::IPC_CREAT | libc::IPC_EXCL | PRIVATE) {
            Ok(id) => {
                sysv::shm_remove(id).map_err(|err| self.shm_error("removing", err))?;
                Ok(())
            }
            Err(err) if already_exists(&err, ipc_key) => Err(ShmError::AlreadyExists {
                key: self.key.clone(),
            }),
            Err(err) => Err(self.create_error(size, err)),
        }
    }

    fn not_found(&self) -> ShmError {
        ShmError::NotFound {
            key: self.key.clone(),
        }
    }
}

impl Segment for QtSharedMemory {
    fn native_key(&self) -> &str {
        self.shm_key_file.to_str().unwrap_or_default()
    }

    fn path(&self) -> Option<&Path> {
        self.attached.as_ref().map(|_| self.shm_key_file.as_path())
    }

    fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError> {
        segment::require_bytes(size)?;
        self.detach();
        self.cleanup_note = None;
        let (attachment, guard) = self.create_locked(size)?;
        // The writer owns the semaphore from now on and removes it when done, as Qt's create()
        // does; so a semaphore a crashed Qt writer left behind is cleaned up by the next writer.
        if let Some(semaphore) = &mut self.semaphore {
            semaphore.created = true;
        }
        let attachment = self.attached.insert(attachment);
        Ok(SegmentAccess::new(
            &mut attachment.mapping,
            None,
            attachment.id as u64,
            guard,
        ))
    }

    fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError> {
        if self.attached.is_some() {
            return Ok(());
        }
        self.cleanup_note = None;
        let _guard = self.acquire()?;
        // Like Qt: no key file, nothing shared (and no ftok of a file that is not there).
        if !self.shm_key_file.is_file() {
            return Err(self.not_found());
        }
        let ipc_key = ftok(&self.shm_key_file)?;
        let permissions = match mode {
            AccessMode::ReadOnly => 0o400,
            AccessMode::ReadWrite => PRIVATE,
        };
        let id = match sysv::shm_get(ipc_key, 0, permissions) {
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => return Err(self.not_found()),
            other => other.map_err(|err| self.shm_error("opening", err))?,
        };
        let stat = sysv::shm_stat(id).map_err(|err| self.shm_error("checking", err))?;
        self.check_ours(id, stat)?;
        if self.remove_if_leftover(id, stat) {
            remove_key_file(&self.shm_key_file);
            return Err(ShmError::LeftoverRemoved {
                key: self.key.clone(),
                pid: stat.creator_pid,
            });
        }
        let writable = mode == AccessMode::ReadWrite;
        let attached = Attached::attach(id, stat.size, writable)
            .map_err(|err| self.shm_error("attaching", err))?;
        self.attached = Some(QtAttachment {
            mapping: Mapping::SystemV(attached),
            ipc_key,
            id,
            creator_pid: stat.creator_pid,
        });
        Ok(())
    }

    fn lock(&mut self) -> Result<SegmentAccess<'_>, ShmError> {
        if self.attached.is_none() {
            return Err(ShmError::NotAttached);
        }
        let guard = self.acquire()?;
        let Some(attachment) = self.attached.as_mut() else {
            return Err(ShmError::NotAttached);
        };
        Ok(SegmentAccess::new(
            &mut attachment.mapping,
            None,
            attachment.id as u64,
            guard,
        ))
    }

    /// Qt's `detach()`: under the semaphore, detach, and if nobody is attached any more, remove
    /// the segment, and its key file if no other segment now uses the key. The segment is the
    /// one we attached (by id), never whatever holds the IPC key now.
    fn detach(&mut self) -> bool {
        let Some(attachment) = self.attached.take() else {
            return false;
        };
        let guard = self.acquire();
        let (id, ipc_key) = (attachment.id, attachment.ipc_key);
        drop(attachment);
        if guard.is_ok()
            && let Ok(stat) = sysv::shm_stat(id)
            && stat.attached == 0
            && owned_privately(stat.owner_uid, stat.mode)
            && sysv::shm_remove(id).is_ok()
            && sysv::shm_get(ipc_key, 0, 0).is_err()
        {
            remove_key_file(&self.shm_key_file);
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
        match &self.attached {
            Some(attachment) => format!(
                "System V segment shmid {} (key file {})",
                attachment.id,
                self.shm_key_file.display()
            ),
            None => format!(
                "System V segment of key file {}",
                self.shm_key_file.display()
            ),
        }
    }

    fn describe_lock(&self) -> String {
        let id = self
            .semaphore
            .as_ref()
            .map(|s| format!("semid {} ", s.id))
            .unwrap_or_default();
        format!(
            "System V semaphore {id}(key file {})",
            self.sem_key_file.display()
        )
    }

    fn cleanup_note(&self) -> Option<&str> {
        self.cleanup_note.as_deref()
    }

    fn creator_pid(&self) -> Option<u32> {
        self.attached.as_ref().map(|a| a.creator_pid)
    }
}

impl Drop for QtSharedMemory {
    fn drop(&mut self) {
        self.detach();
        if let Some(Semaphore { id, created: true }) = self.semaphore.take() {
            let _ = sysv::sem_remove(id);
            remove_key_file(&self.sem_key_file);
        }
    }
}

/// Qt's `createUnixKeyFile`: an empty file, made if missing. An existing one is kept: it is the
/// segment's identity (ftok uses its inode).
fn create_key_file(path: &Path) -> Result<(), ShmError> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(ShmError::io("creating Qt's key file", path, err)),
    }
}

/// Removes a key file, as Qt does when it is done with it, but only one of this user's: the
/// temp folder is shared, and another user may have made the file first (root could remove it).
fn remove_key_file(path: &Path) {
    use std::os::unix::fs::MetadataExt;
    if fs::symlink_metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.uid() == crate::ipc::sys::effective_uid())
    {
        let _ = fs::remove_file(path);
    }
}

fn ftok(path: &Path) -> Result<libc::key_t, ShmError> {
    sysv::ftok(path, PROJECT_ID).map_err(|err| ShmError::io("deriving the IPC key of", path, err))
}

/// What Qt (and shmimage in Qt mode) creates: this user's, mode 0600.
fn owned_privately(owner_uid: u32, mode: u32) -> bool {
    owner_uid == crate::ipc::sys::effective_uid() && mode == 0o600
}

/// Whether the segment starts as Qt writes an image: its marker, then a PNG signature.
fn holds_a_qt_image(id: i32, size: usize, replaceable: Replaceable) -> bool {
    let mut start = vec![0u8; replaceable.start_len];
    size >= start.len()
        && Attached::attach(id, size, false)
            .map(Mapping::SystemV)
            .is_ok_and(|mapping| mapping.copy_out(0, &mut start))
        && replaceable.accepts(&start)
}

/// Whether `shmget` with `IPC_EXCL` failed because a segment has the key. macOS checks the size
/// first: a larger request than the existing segment says `EINVAL`, not `EEXIST`.
fn already_exists(err: &io::Error, ipc_key: libc::key_t) -> bool {
    match err.raw_os_error() {
        Some(libc::EEXIST) => true,
        Some(libc::EINVAL) => cfg!(target_os = "macos") && sysv::shm_get(ipc_key, 0, 0).is_ok(),
        _ => false,
    }
}

/// Linux: a process exists while /proc has its directory.
#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    pid != 0 && Path::new("/proc").join(pid.to_string()).exists()
}

/// macOS: `kill(pid, 0)` finds the process (EPERM: it exists, and is another user's).
#[cfg(target_os = "macos")]
fn process_alive(pid: u32) -> bool {
    crate::ipc::sys::process_exists(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_named_as_qt_names_them() {
        let tmp = Path::new("/tmp");
        assert_eq!(
            qt_key_file("QSharedMemoryExample", SHARED_MEMORY_PREFIX, tmp).unwrap(),
            Path::new(
                "/tmp/qipc_sharedmemory_QSharedMemoryExampleff77196351dd7c1c8f79461ad32f21726fe31f5b"
            )
        );
        // Digits, '_', '-', spaces, non-ASCII and emoji leave the readable part, not the hash.
        assert_eq!(
            qt_key_file("my-key_1 Äz😀", SHARED_MEMORY_PREFIX, tmp).unwrap(),
            Path::new("/tmp/qipc_sharedmemory_mykeyzfa17be942d051c813b892c52c37b1896345b8964")
        );
        assert!(
            qt_key_file("x", SEMAPHORE_PREFIX, tmp)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("/tmp/qipc_systemsem_x")
        );
    }
}
