//! What `shmimage check` measures about this OS's boundaries, by trying: the longest name an
//! object may have, the largest System V segment, where objects show up. Every probe uses
//! throw-away objects of its own that it removes at once, and none commits memory: a System V
//! segment takes pages only when touched, and sizes are read, never filled.

use std::io;
use std::path::{Path, PathBuf};

use crate::ipc::sys::named_object::CreatedObject;

/// The largest `n` in `known_good..=most` for which `works(n)` holds, given that it holds for
/// `known_good` and, past some point, for nothing larger.
pub fn largest_that_works(known_good: u64, most: u64, mut works: impl FnMut(u64) -> bool) -> u64 {
    let (mut good, mut bad) = (known_good, most.saturating_add(1));
    if works(most) {
        return most;
    }
    while bad - good > 1 {
        let middle = good + (bad - good) / 2;
        if works(middle) {
            good = middle;
        } else {
            bad = middle;
        }
    }
    good
}

/// The longest name a native object (POSIX shared memory, a named file mapping) may have
/// here, up to `most` bytes: objects named `prefix` and then `x`s are created and removed.
/// An error if not even `prefix` can be created.
pub fn longest_object_name(prefix: &str, most: usize) -> io::Result<usize> {
    let name = |len: u64| format!("{prefix}{}", "x".repeat(len as usize - prefix.len()));
    CreatedObject::create_new(&name(prefix.len() as u64), &[0])?;
    let longest = largest_that_works(prefix.len() as u64, most as u64, |len| {
        CreatedObject::create_new(&name(len), &[0]).is_ok()
    });
    Ok(longest as usize)
}

/// Where the native object `name` shows up as a file, if it does: it is created (one byte)
/// and looked for in the folders that hold such files on some OS.
pub fn object_file(name: &str) -> io::Result<Option<PathBuf>> {
    let _object = CreatedObject::create_new(name, &[0])?;
    Ok(["/dev/shm", "/run/shm", "/tmp"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists()))
}

/// What the system reports of its System V limits (Linux, macOS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemVLimits {
    pub max_bytes: Option<u64>,
    pub total_pages: Option<u64>,
    pub segments: Option<u64>,
    pub per_process: Option<u64>,
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
pub fn system_v_limits() -> SystemVLimits {
    let limits = crate::ipc::sys::sysv::limits();
    SystemVLimits {
        max_bytes: limits.max_bytes,
        total_pages: limits.total_pages,
        segments: limits.segments,
        per_process: limits.per_process,
    }
}

/// The largest System V segment that can be created now, up to `most` bytes: private segments
/// (`IPC_PRIVATE`, no key, invisible to others) are created and removed at once, never
/// attached, so no page is taken.
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub fn largest_system_v_segment(most: u64) -> io::Result<u64> {
    use crate::ipc::sys::sysv;
    let works = |size: u64| {
        let Ok(size) = usize::try_from(size) else {
            return false;
        };
        match sysv::shm_get(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o600) {
            Ok(id) => sysv::shm_remove(id).is_ok(),
            Err(_) => false,
        }
    };
    sysv::shm_remove(sysv::shm_get(
        libc::IPC_PRIVATE,
        1,
        libc::IPC_CREAT | 0o600,
    )?)?;
    Ok(largest_that_works(1, most, works))
}

/// How much memory programs may still commit (Windows): the bound on a named file mapping.
#[cfg(windows)]
pub fn commit_available() -> Option<u64> {
    crate::ipc::sys::commit_available()
}

/// The logon session this process runs in (Windows): named objects are per session unless
/// their names start with `Global\`.
#[cfg(windows)]
pub fn session_id() -> Option<u32> {
    crate::ipc::sys::session_id()
}

/// The space free for this user on the filesystem behind `dir`.
pub fn free_space(dir: &Path) -> io::Result<u64> {
    fs4::available_space(dir)
}

#[cfg(test)]
mod tests {
    use super::largest_that_works;

    #[test]
    fn the_search_finds_the_boundary_wherever_it_is() {
        for boundary in [1u64, 2, 3, 31, 255, 4096, 1 << 40] {
            let mut calls = 0;
            let found = largest_that_works(1, 1 << 41, |n| {
                calls += 1;
                n <= boundary
            });
            assert_eq!(found, boundary);
            assert!(calls <= 43, "{calls} calls");
        }
        assert_eq!(largest_that_works(1, 100, |_| true), 100);
    }
}
