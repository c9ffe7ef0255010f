//! System V shared memory and semaphores, the IPC that Qt 5's `QSharedMemory` and
//! `QSystemSemaphore` use on Linux and macOS (see `crate::ipc::qt::sysv`). Thin, checked wrappers: each returns the OS
//! error as `io::Error`, and attached memory is only reached through `Mapping`'s copies.

use std::io;
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

/// `ftok(path, proj_id)`: the IPC key derived from a key file's inode and device, by the
/// formula glibc and BSD (macOS) share ([`crate::platform::ftok_key`]), with no `unsafe`.
pub(crate) fn ftok(path: &Path, proj_id: u8) -> io::Result<libc::key_t> {
    use std::os::unix::fs::MetadataExt;
    // ftok stats the path, following a link, as this does.
    let meta = std::fs::metadata(path)?;
    Ok(crate::platform::ftok_key(meta.dev(), meta.ino(), proj_id))
}

/// `shmget(key, size, flags)`: the id of a segment.
pub(crate) fn shm_get(key: libc::key_t, size: usize, flags: libc::c_int) -> io::Result<i32> {
    // SAFETY: shmget takes plain values and touches no memory of ours.
    check(unsafe { libc::shmget(key, size, flags) })
}

/// `IPC_STAT`'s buffer, with room to spare: the libc crate marks its macOS layouts of these
/// structs as unverified, and the kernel must never write past what is ours.
#[repr(C)]
struct StatBuffer<T> {
    ds: T,
    spare: [u8; 64],
}

impl<T> StatBuffer<T> {
    fn zeroed() -> Self {
        // SAFETY: `T` is one of libc's plain C structs of integers (and, on macOS, one pointer
        // that is never read), for which all-zero bytes are a valid value.
        unsafe { std::mem::zeroed() }
    }
}

// The counter's type differs: `c_ulong` on Linux, `c_ushort` on macOS.
#[allow(clippy::useless_conversion)]
pub(crate) fn shm_stat(id: i32) -> io::Result<ShmStat> {
    let mut buf = StatBuffer::<libc::shmid_ds>::zeroed();
    // SAFETY: IPC_STAT writes one shmid_ds at the pointer; it points to our buffer, which has
    // room for it and more.
    check(unsafe { libc::shmctl(id, libc::IPC_STAT, &mut buf.ds) })?;
    let ds = buf.ds;
    Ok(ShmStat {
        size: ds.shm_segsz,
        attached: u64::from(ds.shm_nattch),
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

// The count's type differs: `c_ulong` on Linux, `c_ushort` on macOS.
#[allow(clippy::useless_conversion)]
pub(crate) fn sem_stat(id: i32) -> io::Result<SemStat> {
    let mut buf = StatBuffer::<libc::semid_ds>::zeroed();
    // SAFETY: IPC_STAT writes one semid_ds through the pointer passed as semctl's variadic
    // argument (the `buf` member of union semun); it points to our buffer, which has room.
    check(unsafe { libc::semctl(id, 0, libc::IPC_STAT, &mut buf.ds as *mut libc::semid_ds) })?;
    let ds = buf.ds;
    Ok(SemStat {
        owner_uid: ds.sem_perm.uid,
        mode: u32::from(ds.sem_perm.mode) & 0o777,
        count: u64::from(ds.sem_nsems),
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
#[cfg(target_os = "linux")]
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

/// As on Linux, but macOS has no `semtimedop`: the operation is tried without waiting
/// (`IPC_NOWAIT`), and again after short, growing pauses until the deadline. A lock taken
/// this way is not served in order of arrival, which two windows never notice.
#[cfg(target_os = "macos")]
pub(crate) fn sem_change(id: i32, delta: i16, timeout: Duration) -> io::Result<()> {
    let mut op = libc::sembuf {
        sem_num: 0,
        sem_op: delta,
        sem_flg: (libc::SEM_UNDO | libc::IPC_NOWAIT) as libc::c_short,
    };
    let deadline = std::time::Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        // SAFETY: `op` is one valid sembuf for the call, which reads it and writes nothing.
        let ret = unsafe { libc::semop(id, &mut op, 1) };
        match check(ret) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            other => return other.map(drop),
        }
    }
}

/// What the system says its System V shared memory limits are (`None`: it does not say).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The largest segment, in bytes (`shmmax`).
    pub max_bytes: Option<u64>,
    /// All segments together, in pages (`shmall`).
    pub total_pages: Option<u64>,
    /// Segments on the whole system (`shmmni`).
    pub segments: Option<u64>,
    /// Segments one process may attach (`shmseg`; Linux has no such limit).
    pub per_process: Option<u64>,
}

/// The limits, from /proc/sys/kernel (of this IPC namespace).
#[cfg(target_os = "linux")]
pub(crate) fn limits() -> Limits {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    Limits {
        max_bytes: read("shmmax"),
        total_pages: read("shmall"),
        segments: read("shmmni"),
        per_process: None,
    }
}

/// The limits, from `sysctl kern.sysv`.
#[cfg(target_os = "macos")]
pub(crate) fn limits() -> Limits {
    Limits {
        max_bytes: sysctl_number(c"kern.sysv.shmmax"),
        total_pages: sysctl_number(c"kern.sysv.shmall"),
        segments: sysctl_number(c"kern.sysv.shmmni"),
        per_process: sysctl_number(c"kern.sysv.shmseg"),
    }
}

/// A numeric sysctl, 4 or 8 bytes wide (XNU has both).
#[cfg(target_os = "macos")]
fn sysctl_number(name: &std::ffi::CStr) -> Option<u64> {
    let mut buf = [0u8; 8];
    let mut len = buf.len();
    // SAFETY: `name` is NUL-terminated; `buf` and `len` are valid and ours, and sysctlbyname
    // writes at most `len` bytes into `buf` and the length it wrote into `len`.
    let ret = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    match (ret, len) {
        (0, 4) => Some(u64::from(u32::from_ne_bytes([
            buf[0], buf[1], buf[2], buf[3],
        ]))),
        (0, 8) => Some(u64::from_ne_bytes(buf)),
        _ => None,
    }
}

/// The system's largest System V segment, if it says.
pub(crate) fn shm_max() -> Option<u64> {
    limits().max_bytes
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    /// The formula, against the C library's own `ftok`, on real files.
    #[test]
    fn ftok_gives_what_the_c_library_gives() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("qipc_sharedmemory_x");
        std::fs::write(&file, b"").unwrap();
        for path in [file.as_path(), Path::new("/tmp"), Path::new("/")] {
            let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
            // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
            let theirs = unsafe { libc::ftok(c_path.as_ptr(), libc::c_int::from(b'Q')) };
            assert_eq!(ftok(path, b'Q').unwrap(), theirs, "{}", path.display());
        }
        assert!(ftok(&dir.path().join("missing"), b'Q').is_err());
    }
}
