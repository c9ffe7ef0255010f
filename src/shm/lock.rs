//! The cross-process lock of one key (Qt's `QSystemSemaphore` behind `QSharedMemory::lock`), plus
//! the small state file that records who holds it and the last generation published.
//!
//! # Platform-specific behaviour
//! On Unix the lock is `flock` on `<native>.lock` beside the segments (named-lock's `with_path`),
//! so every process that uses the same directory meets on the same lock whatever its `TMPDIR`.
//! On Windows it is a named mutex, made per user so that two users never block each other.
//! On both, the OS releases the lock when its holder dies, however it dies.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use named_lock::{NamedLock, NamedLockGuard};

use super::ShmError;
use super::dir::{self, Entry, OpenFor};

/// Layout of the state file: holder pid (u32 LE), reserved (u32), last generation (u64 LE).
const STATE_LEN: usize = 16;
/// First wait between lock attempts; it doubles up to 10 ms, so short waits stay short.
const FIRST_PAUSE: Duration = Duration::from_micros(200);

pub(crate) struct KeyLock {
    lock: NamedLock,
    lock_path: PathBuf,
    state_path: PathBuf,
}

/// Proof that the key's lock is held; released on drop.
pub(crate) struct KeyLockGuard<'a> {
    state: File,
    _owner: PhantomData<&'a KeyLock>,
    _guard: NamedLockGuard,
}

impl KeyLock {
    pub(crate) fn open(dir: &Path, native_key: &str) -> Result<Self, ShmError> {
        let lock_path = dir.join(format!("{native_key}.lock"));
        let state_path = dir.join(format!("{native_key}.state"));
        for path in [&lock_path, &state_path] {
            if let Entry::Other(what) = dir::entry_at(path)? {
                return Err(ShmError::Tampered {
                    path: path.clone(),
                    detail: format!("{what} sits where the lock file should be; remove it"),
                });
            }
        }
        let lock =
            create_named_lock(&lock_path, native_key).map_err(|err| ShmError::LockFailed {
                path: lock_path.clone(),
                source: io::Error::other(err),
            })?;
        Ok(Self {
            lock,
            lock_path,
            state_path,
        })
    }

    /// Takes the lock, polling until `timeout`; a holder that never lets go gives
    /// [`ShmError::LockTimeout`] naming its pid, never a hang.
    pub(crate) fn acquire(&self, timeout: Duration) -> Result<KeyLockGuard<'_>, ShmError> {
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        let guard = loop {
            match self.lock.try_lock() {
                Ok(guard) => break guard,
                Err(named_lock::Error::WouldBlock) if pause == FIRST_PAUSE => {
                    let holder = self
                        .holder_pid()
                        .map(|pid| format!(" by pid {pid}"))
                        .unwrap_or_default();
                    log::info!(
                        "waiting for the lock held{holder} ({})",
                        self.lock_path.display()
                    );
                }
                Err(named_lock::Error::WouldBlock) => {}
                Err(err) => {
                    return Err(ShmError::LockFailed {
                        path: self.lock_path.clone(),
                        source: io::Error::other(err),
                    });
                }
            }
            if started.elapsed() >= timeout {
                return Err(ShmError::LockTimeout {
                    holder: self.holder_pid(),
                    waited: timeout,
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        };
        let state = dir::open_file(&self.state_path, OpenFor::ReadWrite)
            .or_else(|err| match err.kind() {
                io::ErrorKind::NotFound => dir::open_file(&self.state_path, OpenFor::CreatingNew),
                _ => Err(err),
            })
            .map_err(|err| ShmError::io("opening the state file", &self.state_path, err))?;
        let mut held = KeyLockGuard {
            state,
            _owner: PhantomData,
            _guard: guard,
        };
        held.write_holder(std::process::id());
        Ok(held)
    }

    /// The pid recorded by the current holder, read without the lock (for messages only).
    pub(crate) fn holder_pid(&self) -> Option<u32> {
        let file = dir::open_file(&self.state_path, OpenFor::Reading).ok()?;
        let state = read_state(&file);
        (state.0 != 0).then_some(state.0)
    }
}

impl KeyLockGuard<'_> {
    /// The generation number for a new segment: one more than any published before.
    pub(crate) fn next_generation(&mut self, seen_on_disk: u64) -> u64 {
        let (_, last) = read_state(&self.state);
        let next = last.max(seen_on_disk) + 1;
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

/// Reads exactly `buf.len()` bytes at `offset` (pread), without moving a file position.
#[cfg(unix)]
pub(crate) fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(unix)]
fn write_at(file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            read => {
                buf = &mut buf[read..];
                offset += read as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
fn write_at(file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    let written = std::os::windows::fs::FileExt::seek_write(file, buf, offset)?;
    if written == buf.len() {
        Ok(())
    } else {
        Err(io::ErrorKind::WriteZero.into())
    }
}

#[cfg(unix)]
fn create_named_lock(lock_path: &Path, _native_key: &str) -> named_lock::Result<NamedLock> {
    NamedLock::with_path(lock_path)
}

#[cfg(windows)]
fn create_named_lock(_lock_path: &Path, native_key: &str) -> named_lock::Result<NamedLock> {
    // named-lock puts Windows mutexes in the Global\ namespace; the user's name keeps two users'
    // locks apart (no cross-user blocking, no "access denied" on another user's mutex).
    let user: String = std::env::var("USERNAME")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    NamedLock::create(&format!("shmimage-{user}-{native_key}"))
}
