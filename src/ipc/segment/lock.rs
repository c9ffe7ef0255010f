//! The cross-process lock of one key (Qt's `QSystemSemaphore` behind `QSharedMemory::lock`): an
//! exclusive file lock on `<native>.lock` beside the segments, on every OS, through std's
//! `File::try_lock`, plus a small state file that records who holds it.
//!
//! A file lock in the private directory means one directory is one lock, whoever the user and
//! whatever the environment; nobody outside can create, hold or deny it; and the OS releases it
//! when its holder dies, however it dies.

use std::fs::{File, TryLockError};
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Patience, ShmError, Waiting};
use crate::safe_fs::{Entry, OpenFor, entry_at, open_file, read_at, write_at};

/// Layout of the state file: holder pid (u32 LE), reserved (u32), last generation (u64 LE).
const STATE_LEN: usize = 16;
/// First wait between lock attempts; it doubles up to [`LONGEST_PAUSE`], so short waits stay
/// short.
const FIRST_PAUSE: Duration = Duration::from_micros(200);
/// Longest wait between lock attempts. A follower of a stream often finds the publisher holding
/// the lock for a few ms: with 10 ms here, a 30 Hz 1080p stream reached the follower in 9.3 ms
/// (p50; p99 12 ms), with 2 ms in 5.9 ms (p99 8.7 ms). A waiter costs at most 500 wake-ups a
/// second, and only while it waits.
const LONGEST_PAUSE: Duration = Duration::from_millis(2);

pub(crate) struct KeyLock {
    lock_path: PathBuf,
    state_path: PathBuf,
}

/// Proof that the key's lock is held; released on drop.
pub(crate) struct KeyLockGuard<'a> {
    state: File,
    _owner: PhantomData<&'a KeyLock>,
    /// Closing it releases the lock.
    _locked: File,
}

impl KeyLock {
    pub(crate) fn open(dir: &Path, native_key: &str) -> Result<Self, ShmError> {
        let lock_path = dir.join(format!("{native_key}.lock"));
        let state_path = dir.join(format!("{native_key}.state"));
        for path in [&lock_path, &state_path] {
            if let Entry::Other(what) =
                entry_at(path).map_err(|err| ShmError::io("checking", path, err))?
            {
                return Err(ShmError::Tampered {
                    path: path.clone(),
                    detail: format!("{what} sits where the lock file should be; remove it"),
                });
            }
        }
        Ok(Self {
            lock_path,
            state_path,
        })
    }

    /// Takes the lock, polling until `timeout`; a holder that never lets go gives
    /// [`ShmError::LockTimeout`] naming its pid, never a hang.
    pub(crate) fn acquire(&self, timeout: Duration) -> Result<KeyLockGuard<'_>, ShmError> {
        self.acquire_with(timeout, None)
    }

    /// Like [`acquire`](Self::acquire), asking `patience` whether to wait past the timeout.
    pub(crate) fn acquire_with(
        &self,
        timeout: Duration,
        patience: Option<&Arc<dyn Patience>>,
    ) -> Result<KeyLockGuard<'_>, ShmError> {
        let mut waiting = Waiting::new(timeout, patience);
        let mut pause = FIRST_PAUSE;
        let locked = loop {
            match self.try_lock()? {
                Some(locked) => break locked,
                None if pause == FIRST_PAUSE => {
                    let holder = self
                        .holder_pid()
                        .map(|pid| format!(" by pid {pid}"))
                        .unwrap_or_default();
                    log::info!(
                        "waiting for the lock held{holder} ({})",
                        self.lock_path.display()
                    );
                }
                None => {}
            }
            if !waiting.go_on(|| self.holder_pid())? {
                let holder = self.holder_pid();
                return Err(ShmError::LockTimeout {
                    holder,
                    holder_is_this_process: holder == Some(std::process::id()),
                    waited: waiting.waited(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(LONGEST_PAUSE);
        };
        let state = open_file(&self.state_path, OpenFor::ReadWrite)
            .or_else(|err| match err.kind() {
                io::ErrorKind::NotFound => open_file(&self.state_path, OpenFor::CreatingNew),
                _ => Err(err),
            })
            .map_err(|err| ShmError::io("opening the state file", &self.state_path, err))?;
        let mut held = KeyLockGuard {
            state,
            _owner: PhantomData,
            _locked: locked,
        };
        held.write_holder(std::process::id());
        Ok(held)
    }

    /// One attempt: the locked file, or `None` if another process holds the lock.
    fn try_lock(&self) -> Result<Option<File>, ShmError> {
        let path = &self.lock_path;
        let file = match open_file(path, OpenFor::ReadWrite) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                match open_file(path, OpenFor::CreatingNew) {
                    // Someone else created it first: retry at once and meet on theirs.
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
                    other => other,
                }
            }
            other => other,
        }
        .map_err(|err| ShmError::io("opening the lock file", path, err))?;
        match file.try_lock() {
            Ok(()) if still_named_by(&file, path) => Ok(Some(file)),
            // `clean` removed it between our open and our lock: it is no longer the key's lock.
            Ok(()) => Ok(None),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(err)) => Err(locks_unsupported(path, err)),
        }
    }

    /// The pid recorded by the current holder, read without the lock (for messages only).
    pub(crate) fn holder_pid(&self) -> Option<u32> {
        let file = open_file(&self.state_path, OpenFor::Reading).ok()?;
        let state = read_state(&file);
        (state.0 != 0).then_some(state.0)
    }

    /// Removes the lock and state files while holding the lock (`shmimage clean`), so that idle
    /// keys leave nothing behind. Anyone who opened the old lock file finds, once they lock it,
    /// that the path no longer names it, and starts over on a new one.
    #[cfg(unix)]
    pub(crate) fn remove_files(guard: KeyLockGuard<'_>, lock: &KeyLock) -> io::Result<()> {
        std::fs::remove_file(&lock.state_path).or_else(ignore_missing)?;
        std::fs::remove_file(&lock.lock_path).or_else(ignore_missing)?;
        drop(guard);
        Ok(())
    }
}

#[cfg(unix)]
fn ignore_missing(err: io::Error) -> io::Result<()> {
    if err.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(err)
    }
}

/// Whether `path` still names the very file `file` is (same device and inode).
#[cfg(unix)]
fn still_named_by(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Windows: lock files are never removed (a file another process has open cannot be deleted
/// outright there), so the path always names the file that was opened.
#[cfg(windows)]
fn still_named_by(_file: &File, _path: &Path) -> bool {
    true
}

/// A file lock that fails outright (rather than "held by someone") means this filesystem cannot
/// do what the lifetime contract rests on, e.g. a network filesystem that emulates `flock`.
pub(crate) fn locks_unsupported(path: &Path, err: io::Error) -> ShmError {
    ShmError::LockFailed {
        path: path.to_path_buf(),
        source: io::Error::other(format!(
            "file locks do not work here ({err}); shmimage needs a local filesystem such as \
             /dev/shm or /tmp: set {} to a directory on one",
            super::DIR_ENV
        )),
    }
}

impl KeyLockGuard<'_> {
    /// The generation number for a new segment: one more than any published before. A state
    /// file whose number cannot grow any more is damaged: the count starts over from what is on
    /// disk, with a log line.
    pub(crate) fn next_generation(&mut self, seen_on_disk: u64) -> u64 {
        let (_, last) = read_state(&self.state);
        let next = match last.max(seen_on_disk).checked_add(1) {
            Some(next) => next,
            None => {
                log::warn!(
                    "the state file says the last generation was {last}, which cannot grow; starting over"
                );
                seen_on_disk.saturating_add(1).max(1)
            }
        };
        let _ = write_at(&self.state, 8, &next.to_le_bytes());
        next
    }

    fn write_holder(&mut self, pid: u32) {
        // Best effort: the pid only improves the timeout message of other processes.
        let _ = write_at(&self.state, 0, &pid.to_le_bytes());
    }
}

impl Drop for KeyLockGuard<'_> {
    fn drop(&mut self) {
        self.write_holder(0);
    }
}

fn read_state(file: &File) -> (u32, u64) {
    let mut bytes = [0u8; STATE_LEN];
    if read_at(file, 0, &mut bytes).is_err() {
        return (0, 0);
    }
    let pid = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let mut generation = [0u8; 8];
    generation.copy_from_slice(&bytes[8..16]);
    (pid, u64::from_le_bytes(generation))
}
