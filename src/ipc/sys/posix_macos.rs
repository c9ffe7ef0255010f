//! macOS's POSIX shared memory and named semaphores under the exact names Qt 6.6+ passes them
//! (`crate::ipc::qt::posix_macos`). XNU keeps both in kernel tables of their own, with no
//! files to look at: an object is known only by opening it.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::ErrorKind::InvalidInput.into())
}

/// `shm_open(name, flags, 0600)` with the name exactly as given.
pub(crate) fn shm_open(name: &str, flags: libc::c_int) -> io::Result<File> {
    let name = c_name(name)?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call; the mode is passed as
    // the variadic `unsigned int` that macOS's shm_open reads when O_CREAT is set.
    let fd = unsafe { libc::shm_open(name.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by shm_open, is open, and nothing else owns it.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

pub(crate) fn shm_unlink(name: &str) -> io::Result<()> {
    let name = c_name(name)?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    if unsafe { libc::shm_unlink(name.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A named semaphore opened with `sem_open`; closed on drop.
pub(crate) struct NamedSemaphore {
    sem: *mut libc::sem_t,
}

// SAFETY: a `sem_t` from sem_open is a kernel object's handle, made for use from any thread.
unsafe impl Send for NamedSemaphore {}

impl NamedSemaphore {
    /// Opens `name`, creating it (mode 0600, value 1) if it does not exist. Says whether this
    /// call created it.
    pub(crate) fn open_or_create(name: &str) -> io::Result<(Self, bool)> {
        let c = c_name(name)?;
        for _ in 0..2 {
            let flags = libc::O_CREAT | libc::O_EXCL;
            // SAFETY: `c` is NUL-terminated and outlives the call; with O_CREAT, sem_open reads
            // the mode and the initial value as two variadic `unsigned int`s.
            let sem = unsafe { libc::sem_open(c.as_ptr(), flags, 0o600 as libc::c_uint, 1u32) };
            if sem != libc::SEM_FAILED {
                return Ok((Self { sem }, true));
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EEXIST) {
                return Err(err);
            }
            // SAFETY: as above; without O_CREAT no variadic argument is read.
            let sem = unsafe { libc::sem_open(c.as_ptr(), 0) };
            if sem != libc::SEM_FAILED {
                return Ok((Self { sem }, false));
            }
            // Removed between the two calls by its creator: create it again.
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::ENOENT) {
                return Err(err);
            }
        }
        Err(io::Error::other(
            "it kept disappearing while being opened; try again",
        ))
    }

    /// Takes the semaphore if it is free now. macOS has no `sem_timedwait`, so the caller
    /// retries with its own deadline.
    pub(crate) fn try_wait(&self) -> io::Result<bool> {
        loop {
            // SAFETY: `self.sem` came from a successful sem_open and is closed only on drop.
            if unsafe { libc::sem_trywait(self.sem) } == 0 {
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EAGAIN) => return Ok(false),
                Some(libc::EINTR) => continue,
                _ => return Err(err),
            }
        }
    }

    pub(crate) fn post(&self) -> io::Result<()> {
        // SAFETY: as in `try_wait`.
        if unsafe { libc::sem_post(self.sem) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Whether a semaphore of that name exists (and this user may open it).
    pub(crate) fn exists(name: &str) -> bool {
        let Ok(c) = c_name(name) else {
            return false;
        };
        // SAFETY: `c` is NUL-terminated and outlives the call; without O_CREAT no variadic
        // argument is read.
        let sem = unsafe { libc::sem_open(c.as_ptr(), 0) };
        if sem == libc::SEM_FAILED {
            return false;
        }
        drop(Self { sem });
        true
    }

    pub(crate) fn unlink(name: &str) -> io::Result<()> {
        let name = c_name(name)?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call.
        if unsafe { libc::sem_unlink(name.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for NamedSemaphore {
    fn drop(&mut self) {
        // SAFETY: `self.sem` came from a successful sem_open and is closed exactly once, here.
        unsafe { libc::sem_close(self.sem) };
    }
}
