//! POSIX named semaphores (`sem_open`), the lock of Qt 6's `QSharedMemory` with a
//! `QNativeIpcKey` on Linux (see `crate::ipc::qt::posix`).
//!
//! glibc's `sem_open` of an existing name maps whatever file sits at `/dev/shm/sem.NAME`,
//! whoever made it and whatever its size: an empty one planted by another user is a SIGBUS at the
//! first wait. So only creating goes through `sem_open`; an existing semaphore is opened as a
//! file, checked by the caller, and mapped here only if it is exactly one `sem_t`. That is all
//! `sem_open` does too, and glibc's named semaphores are process-shared, so the calls below work
//! on any mapping of the file.

use std::ffi::CString;
use std::fs::File;
use std::io;

/// An open named semaphore: its file, mapped; unmapped (not removed) on drop.
#[derive(Debug)]
pub(crate) struct NamedSemaphore {
    map: memmap2::MmapRaw,
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains NUL"))
}

impl NamedSemaphore {
    /// Creates the semaphore `name` with value 1, as Qt 6 does (mode 0600): `Ok(false)` if the
    /// name exists already, which is then left untouched. Open it with [`map`](Self::map).
    pub(crate) fn create(name: &str) -> io::Result<bool> {
        let c_name = c_name(name)?;
        let mode: libc::c_uint = 0o600;
        // SAFETY: a valid C string; with O_CREAT sem_open takes the mode and initial value.
        let sem = unsafe {
            libc::sem_open(
                c_name.as_ptr(),
                libc::O_CREAT | libc::O_EXCL,
                mode,
                1 as libc::c_uint,
            )
        };
        if sem == libc::SEM_FAILED {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EEXIST) => Ok(false),
                _ => Err(err),
            };
        }
        // SAFETY: `sem` came from a successful sem_open and is closed once, here; the semaphore
        // itself stays, under its name.
        unsafe { libc::sem_close(sem) };
        Ok(true)
    }

    /// Maps `file`, the semaphore's file that the caller opened without following a link and
    /// found to be this user's: an error of kind `InvalidData` unless it is one `sem_t` long.
    pub(crate) fn map(file: &File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        if len != std::mem::size_of::<libc::sem_t>() as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "it is {len} bytes long, where a semaphore is {}",
                    std::mem::size_of::<libc::sem_t>()
                ),
            ));
        }
        let map = memmap2::MmapOptions::new().map_raw(file)?;
        Ok(Self { map })
    }

    fn sem(&self) -> *mut libc::sem_t {
        self.map.as_mut_ptr().cast()
    }

    /// Takes the semaphore if it is free, without waiting: true if taken. The caller polls
    /// with its own monotonic deadline (`sem_timedwait` measures against the wall clock, which
    /// a clock step would lengthen or cut short).
    pub(crate) fn try_wait(&self) -> io::Result<bool> {
        loop {
            // SAFETY: the mapping is one whole sem_t (checked in `map`), mapped until drop, and
            // only its owner can resize the file; the sem_t functions are process-safe.
            if unsafe { libc::sem_trywait(self.sem()) } == 0 {
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return Ok(false),
                _ => return Err(err),
            }
        }
    }

    pub(crate) fn post(&self) -> io::Result<()> {
        // SAFETY: as in `try_wait`: one whole sem_t, mapped until drop.
        if unsafe { libc::sem_post(self.sem()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Removes the name; processes that have it open keep using it.
    pub(crate) fn unlink(name: &str) -> io::Result<()> {
        let c_name = c_name(name)?;
        // SAFETY: a valid C string.
        if unsafe { libc::sem_unlink(c_name.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}
