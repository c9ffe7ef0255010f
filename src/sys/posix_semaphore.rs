//! POSIX named semaphores (`sem_open`), the lock of Qt 6's `QSharedMemory` with a
//! `QNativeIpcKey` on Linux (see `crate::qt::posix`).

use std::ffi::CString;
use std::io;

/// An open named semaphore; closed (not removed) on drop.
#[derive(Debug)]
pub(crate) struct NamedSemaphore {
    sem: *mut libc::sem_t,
}

// SAFETY: a sem_t from sem_open is process-shared by design and its functions are
// thread-safe; the pointer is only passed to them.
unsafe impl Send for NamedSemaphore {}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains NUL"))
}

impl NamedSemaphore {
    /// Opens the semaphore `name`, creating it with value 1 if it does not exist. Returns
    /// whether this call created it. An existing one is never reset.
    pub(crate) fn open_or_create(name: &str) -> io::Result<(Self, bool)> {
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
        if sem != libc::SEM_FAILED {
            return Ok((Self { sem }, true));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EEXIST) {
            return Err(err);
        }
        // SAFETY: a valid C string; without O_CREAT no further arguments are read.
        let sem = unsafe { libc::sem_open(c_name.as_ptr(), 0) };
        if sem == libc::SEM_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok((Self { sem }, false))
    }

    /// Takes the semaphore if it is free, without waiting: true if taken. The caller polls
    /// with its own monotonic deadline (`sem_timedwait` measures against the wall clock, which
    /// a clock step would lengthen or cut short).
    pub(crate) fn try_wait(&self) -> io::Result<bool> {
        loop {
            // SAFETY: `sem` is open until drop.
            if unsafe { libc::sem_trywait(self.sem) } == 0 {
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
        // SAFETY: `sem` is open until drop.
        if unsafe { libc::sem_post(self.sem) } == 0 {
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

impl Drop for NamedSemaphore {
    fn drop(&mut self) {
        // SAFETY: `sem` came from a successful sem_open and is closed exactly once, here.
        unsafe { libc::sem_close(self.sem) };
    }
}
