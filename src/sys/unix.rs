//! Unix-only calls the standard library lacks.

/// The effective user id, which names this user's segment directory.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail (POSIX).
    unsafe { libc::geteuid() }
}
