//! The project's only unsafe code: mapping a segment file, copying bytes across the mapping, and
//! the few OS calls the standard library lacks.
//!
//! Why mapping is unsafe at all: the bytes behind a mapping belong to a file that other processes
//! can write, and a process that shrinks the file makes our next access to the lost pages raise
//! SIGBUS. Two rules keep this sound in practice:
//! - segment files live in a directory only this user can enter (see `dir.rs`) and are never
//!   truncated by this program; readers copy out with `pread` rather than through the mapping, and
//!   `lock()` checks (under the segment lock) that the file still covers the mapping before it
//!   hands out access. A writer fills a file it has just created and nobody else has attached;
//! - no Rust reference to mapped bytes ever leaves this module: copies go through raw pointers
//!   into or out of private buffers, so another process writing at the same time can only
//!   produce wrong bytes (caught by the checksum), never undefined behaviour in safe code.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

use memmap2::{Mmap, MmapMut, MmapOptions};

/// A segment file mapped into this process, read-only or read-write as it was attached.
pub(crate) enum Mapping {
    ReadOnly(Mmap),
    ReadWrite(MmapMut),
    /// A System V segment (Qt-compatible mode).
    #[cfg(target_os = "linux")]
    SystemV(sysv::Attached),
}

impl Mapping {
    /// Maps the first `len` bytes of `file` read-only (`len` > 0).
    pub(crate) fn read_only(file: &File, len: usize) -> io::Result<Self> {
        // SAFETY: see the module comment: the file is private to this user, its length was checked
        // to be at least `len`, and the mapping is only read through `copy_out` below.
        let map = unsafe { MmapOptions::new().len(len).map(file)? };
        Ok(Self::ReadOnly(map))
    }

    /// Maps the first `len` bytes of `file` read-write (`len` > 0, file opened read-write).
    pub(crate) fn read_write(file: &File, len: usize) -> io::Result<Self> {
        // SAFETY: as for `read_only`; the mapping is only written through `copy_in`, under the lock.
        let map = unsafe { MmapOptions::new().len(len).map_mut(file)? };
        Ok(Self::ReadWrite(map))
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::ReadOnly(map) => map.len(),
            Self::ReadWrite(map) => map.len(),
            #[cfg(target_os = "linux")]
            Self::SystemV(segment) => segment.len(),
        }
    }

    pub(crate) fn is_writable(&self) -> bool {
        match self {
            Self::ReadOnly(_) => false,
            Self::ReadWrite(_) => true,
            #[cfg(target_os = "linux")]
            Self::SystemV(segment) => segment.is_writable(),
        }
    }

    /// Copies `dst.len()` bytes starting at `offset` out of the mapping. Returns false, copying
    /// nothing, if the range does not lie inside the mapping.
    pub(crate) fn copy_out(&self, offset: usize, dst: &mut [u8]) -> bool {
        if !fits(offset, dst.len(), self.len()) {
            return false;
        }
        let base = match self {
            Self::ReadOnly(map) => map.as_ptr(),
            Self::ReadWrite(map) => map.as_ptr(),
            #[cfg(target_os = "linux")]
            Self::SystemV(segment) => segment.as_ptr(),
        };
        // SAFETY: `offset + dst.len() <= self.len()` was checked above, so the source range lies in
        // the mapping; `dst` is a private buffer and cannot overlap a mapping we created.
        unsafe { std::ptr::copy_nonoverlapping(base.add(offset), dst.as_mut_ptr(), dst.len()) };
        true
    }

    /// Copies `src` into the mapping at `offset`. Returns false, copying nothing, if the mapping
    /// is read-only or the range does not lie inside it.
    pub(crate) fn copy_in(&mut self, offset: usize, src: &[u8]) -> bool {
        if !self.is_writable() || !fits(offset, src.len(), self.len()) {
            return false;
        }
        let base = match self {
            Self::ReadOnly(_) => return false,
            Self::ReadWrite(map) => map.as_mut_ptr(),
            #[cfg(target_os = "linux")]
            Self::SystemV(segment) => segment.as_mut_ptr(),
        };
        // SAFETY: the destination range lies inside the writable mapping (checked above) and `src`
        // is a private buffer, so the two cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), base.add(offset), src.len()) };
        true
    }
}

fn fits(offset: usize, count: usize, len: usize) -> bool {
    offset.checked_add(count).is_some_and(|end| end <= len)
}

/// The effective user id, which names this user's segment directory.
#[cfg(unix)]
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail (POSIX).
    unsafe { libc::geteuid() }
}

/// System V shared memory and semaphores, the IPC that Qt 5's `QSharedMemory` and
/// `QSystemSemaphore` use on Linux (see `shm::qt`). Thin, checked wrappers: each returns the OS
/// error as `io::Error`, and attached memory is only reached through `Mapping`'s copies.
#[cfg(target_os = "linux")]
pub(crate) mod sysv {
    use std::ffi::CString;
    use std::io;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::time::Duration;

    /// What `IPC_STAT` says about a segment.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct ShmStat {
        pub size: usize,
        pub attached: u64,
        pub creator_pid: u32,
        pub owner_uid: u32,
        /// The permission bits (e.g. 0o600).
        pub mode: u32,
    }

    /// What `IPC_STAT` says about a semaphore set.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct SemStat {
        pub owner_uid: u32,
        pub mode: u32,
        pub count: u64,
    }

    fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
        if ret == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret)
        }
    }

    /// `ftok(path, proj_id)`: the IPC key derived from a key file's inode and device.
    pub(crate) fn ftok(path: &Path, proj_id: u8) -> io::Result<libc::key_t> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
        // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
        let key = unsafe { libc::ftok(c_path.as_ptr(), libc::c_int::from(proj_id)) };
        check(key)
    }

    /// `shmget(key, size, flags)`: the id of a segment.
    pub(crate) fn shm_get(key: libc::key_t, size: usize, flags: libc::c_int) -> io::Result<i32> {
        // SAFETY: shmget takes plain values and touches no memory of ours.
        check(unsafe { libc::shmget(key, size, flags) })
    }

    pub(crate) fn shm_stat(id: i32) -> io::Result<ShmStat> {
        // SAFETY: an all-zero shmid_ds is a valid value of this plain C struct.
        let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: IPC_STAT writes one shmid_ds into `ds`, which is valid and exclusively ours.
        check(unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) })?;
        Ok(ShmStat {
            size: ds.shm_segsz,
            attached: ds.shm_nattch,
            creator_pid: ds.shm_cpid as u32,
            owner_uid: ds.shm_perm.uid,
            mode: u32::from(ds.shm_perm.mode) & 0o777,
        })
    }

    /// Marks a segment for removal: it disappears when the last process detaches, and its key
    /// can be used for a new segment at once.
    pub(crate) fn shm_remove(id: i32) -> io::Result<()> {
        // SAFETY: IPC_RMID reads no buffer; a null pointer is what it expects.
        check(unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
    }

    /// A System V segment attached to this process; detached (`shmdt`) on drop.
    #[derive(Debug)]
    pub(crate) struct Attached {
        addr: *mut u8,
        len: usize,
        writable: bool,
    }

    // SAFETY: the attachment is a plain address range; all access goes through `Mapping`'s
    // copies, which take `&self`/`&mut self`, so moving it between threads is sound.
    unsafe impl Send for Attached {}

    impl Attached {
        /// `shmat(id)`, read-only or read-write, covering the segment's exact size `len`.
        pub(crate) fn attach(id: i32, len: usize, writable: bool) -> io::Result<Self> {
            let flags = if writable { 0 } else { libc::SHM_RDONLY };
            // SAFETY: a null address lets the kernel choose where to map; nothing else is touched.
            let addr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
            if addr as isize == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(Self {
                addr: addr.cast(),
                len,
                writable,
            })
        }

        pub(crate) fn len(&self) -> usize {
            self.len
        }

        pub(crate) fn is_writable(&self) -> bool {
            self.writable
        }

        pub(crate) fn as_ptr(&self) -> *const u8 {
            self.addr
        }

        pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
            self.addr
        }
    }

    impl Drop for Attached {
        fn drop(&mut self) {
            // SAFETY: `addr` came from a successful shmat and is detached exactly once, here.
            unsafe { libc::shmdt(self.addr.cast()) };
        }
    }

    /// `semget(key, 1, flags)`: a set of one semaphore.
    pub(crate) fn sem_get(key: libc::key_t, flags: libc::c_int) -> io::Result<i32> {
        // SAFETY: semget takes plain values.
        check(unsafe { libc::semget(key, 1, flags) })
    }

    pub(crate) fn sem_stat(id: i32) -> io::Result<SemStat> {
        // SAFETY: an all-zero semid_ds is a valid value of this plain C struct.
        let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: IPC_STAT writes one semid_ds through the pointer passed as semctl's variadic
        // argument (the `buf` member of union semun); `ds` is valid and exclusively ours.
        check(unsafe { libc::semctl(id, 0, libc::IPC_STAT, &mut ds as *mut libc::semid_ds) })?;
        Ok(SemStat {
            owner_uid: ds.sem_perm.uid,
            mode: u32::from(ds.sem_perm.mode) & 0o777,
            count: ds.sem_nsems as u64,
        })
    }

    pub(crate) fn sem_set_value(id: i32, value: libc::c_int) -> io::Result<()> {
        // SAFETY: SETVAL takes the value as its variadic int argument.
        check(unsafe { libc::semctl(id, 0, libc::SETVAL, value) }).map(drop)
    }

    /// The pid of the last process that changed the semaphore: while it is taken, the holder.
    pub(crate) fn sem_last_pid(id: i32) -> io::Result<u32> {
        // SAFETY: GETPID takes no buffer.
        check(unsafe { libc::semctl(id, 0, libc::GETPID) }).map(|pid| pid as u32)
    }

    pub(crate) fn sem_remove(id: i32) -> io::Result<()> {
        // SAFETY: IPC_RMID takes no buffer.
        check(unsafe { libc::semctl(id, 0, libc::IPC_RMID) }).map(drop)
    }

    /// Adds `delta` to the semaphore with SEM_UNDO (the kernel reverts it if we die), waiting
    /// at most `timeout` in all, however often a signal interrupts the wait. A timeout is
    /// `ErrorKind::WouldBlock`.
    pub(crate) fn sem_change(id: i32, delta: i16, timeout: Duration) -> io::Result<()> {
        let mut op = libc::sembuf {
            sem_num: 0,
            sem_op: delta,
            sem_flg: libc::SEM_UNDO as libc::c_short,
        };
        let deadline = std::time::Instant::now() + timeout;
        loop {
            // semtimedop's timeout is relative: after EINTR only what is left of it is passed.
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let wait = libc::timespec {
                tv_sec: left.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
            };
            // libc has no binding for semtimedop, glibc's wrapper is this very syscall.
            // SAFETY: `op` and `wait` are valid for the call; semtimedop reads one sembuf and the
            // timespec, and writes nothing.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_semtimedop,
                    id,
                    &mut op as *mut libc::sembuf,
                    1usize,
                    &wait as *const libc::timespec,
                )
            };
            match check(if ret == -1 { -1 } else { 0 }) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                other => return other.map(drop),
            }
        }
    }
}

/// POSIX named semaphores (`sem_open`), the lock of Qt 6's `QSharedMemory` with a
/// `QNativeIpcKey` on Linux (see `shm::qt6`).
#[cfg(target_os = "linux")]
pub(crate) mod posix_semaphore {
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
        CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains NUL"))
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
}

/// Closes the console window that Windows opened for this process when it was started from
/// Explorer (a console nobody else shares), so the app shows only its window. Started from a
/// terminal, the console is the terminal's and is kept, so `shmimage put` still prints there.
#[cfg(all(windows, feature = "gui"))]
pub fn hide_own_console() {
    use windows_sys::Win32::System::Console::{FreeConsole, GetConsoleProcessList};
    let mut pids = [0u32; 2];
    // SAFETY: the buffer is valid for the two entries we pass as its length.
    let sharing = unsafe { GetConsoleProcessList(pids.as_mut_ptr(), pids.len() as u32) };
    if sharing == 1 {
        // SAFETY: FreeConsole has no preconditions; failure only means there was no console.
        unsafe { FreeConsole() };
    }
}

#[cfg(all(not(windows), feature = "gui"))]
pub fn hide_own_console() {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn copies_outside_the_mapping_are_refused() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&[7u8; 100]).unwrap();
        let mut map = Mapping::read_write(&file, 100).unwrap();
        assert!(!map.copy_in(99, &[1, 2]));
        assert!(!map.copy_in(usize::MAX, &[1]));
        assert!(map.copy_in(98, &[1, 2]));
        let mut out = [0u8; 3];
        assert!(!map.copy_out(98, &mut out));
        assert!(map.copy_out(97, &mut out));
        assert_eq!(out, [7, 1, 2]);
        let read_only = Mapping::read_only(&file, 100).unwrap();
        let mut read_only = read_only;
        assert!(!read_only.copy_in(0, &[1]));
    }
}
