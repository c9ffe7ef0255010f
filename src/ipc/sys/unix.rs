//! Unix-only calls the standard library lacks.

/// The effective user id, which names this user's segment directory.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail (POSIX).
    unsafe { libc::geteuid() }
}

/// The type name of the filesystem holding `path` (apfs, hfs, nfs…), from `statfs`'s
/// `f_fstypename`: BSD's `stat -f %T` prints the file's type, not its filesystem's.
/// Whether process `pid` exists: `kill(pid, 0)` sends nothing and finds it, and `EPERM` means it
/// exists and is another user's. Used where there is no /proc (macOS).
#[cfg(target_os = "macos")]
pub(crate) fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

#[cfg(target_os = "macos")]
pub(crate) fn filesystem_type(path: &std::path::Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `c_path` is NUL-terminated and outlives the call; `stat` is a writable statfs.
    if unsafe { libc::statfs(c_path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: statfs returned 0, so it filled the whole struct.
    let stat = unsafe { stat.assume_init() };
    let name: Vec<u8> = stat.f_fstypename.iter().map(|c| *c as u8).collect();
    Some(crate::platform::c_string_field(&name))
}

/// The user's private cache (`C`) or temporary (`T`) folder in `/var/folders`, from `confstr`:
/// the same for all of the user's processes, whatever their environment says.
#[cfg(target_os = "macos")]
pub(crate) fn darwin_user_dir(cache: bool) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let name = if cache {
        libc::_CS_DARWIN_USER_CACHE_DIR
    } else {
        libc::_CS_DARWIN_USER_TEMP_DIR
    };
    let mut buf = vec![0u8; 1024];
    // SAFETY: `buf` is writable for its whole length, which is what is passed; confstr writes
    // at most that many bytes, NUL included, and returns the length it needed.
    let needed = unsafe { libc::confstr(name, buf.as_mut_ptr().cast(), buf.len()) };
    if needed == 0 || needed > buf.len() {
        return None;
    }
    let text = crate::platform::c_string_field(&buf);
    let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(text.as_bytes()));
    path.is_absolute().then_some(path)
}
