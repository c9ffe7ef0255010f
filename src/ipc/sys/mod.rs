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

// Per-platform calls, each file behind the same names where the platforms share one.
pub(crate) mod named_object;
#[cfg(target_os = "macos")]
pub(crate) mod posix_macos;
#[cfg(target_os = "linux")]
pub(crate) mod posix_semaphore;
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub(crate) mod sysv;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
pub(crate) use unix::effective_uid;
#[cfg(target_os = "macos")]
pub(crate) use unix::{darwin_user_dir, filesystem_type, process_exists};
#[cfg(windows)]
pub use windows::{attach_parent_console, commit_available, folder_is_mine, session_id};

/// Gives a command typed in a terminal that terminal to print to; only a Windows GUI program
/// lacks one.
#[cfg(not(windows))]
pub fn attach_parent_console() {}

use std::fs::File;
use std::io;

use memmap2::{Mmap, MmapMut, MmapOptions};

/// A segment file mapped into this process, read-only or read-write as it was attached.
pub(crate) enum Mapping {
    ReadOnly(Mmap),
    ReadWrite(MmapMut),
    /// A System V segment (Qt-compatible mode).
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    SystemV(sysv::Attached),
    /// A named file mapping (Qt-compatible modes on Windows).
    #[cfg(windows)]
    Section(named_object::Section),
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
            #[cfg(any(target_os = "linux", target_os = "macos"))]
            Self::SystemV(segment) => segment.len(),
            #[cfg(windows)]
            Self::Section(section) => section.len(),
        }
    }

    pub(crate) fn is_writable(&self) -> bool {
        match self {
            Self::ReadOnly(_) => false,
            Self::ReadWrite(_) => true,
            #[cfg(any(target_os = "linux", target_os = "macos"))]
            Self::SystemV(segment) => segment.is_writable(),
            #[cfg(windows)]
            Self::Section(section) => section.is_writable(),
        }
    }

    fn base(&self) -> *const u8 {
        match self {
            Self::ReadOnly(map) => map.as_ptr(),
            Self::ReadWrite(map) => map.as_ptr(),
            #[cfg(any(target_os = "linux", target_os = "macos"))]
            Self::SystemV(segment) => segment.as_ptr(),
            #[cfg(windows)]
            Self::Section(section) => section.as_ptr(),
        }
    }

    /// Copies `dst.len()` bytes starting at `offset` out of the mapping. Returns false, copying
    /// nothing, if the range does not lie inside the mapping.
    pub(crate) fn copy_out(&self, offset: usize, dst: &mut [u8]) -> bool {
        fits(offset, dst.len(), self.len()) && self.copy_out_up_to(offset, dst) == dst.len()
    }

    /// Copies what of `dst` the mapping holds from `offset` on: the count copied (short at the
    /// end, 0 past it).
    pub(crate) fn copy_out_up_to(&self, offset: usize, dst: &mut [u8]) -> usize {
        // SAFETY: the mapping is `self.len()` readable bytes for as long as `self` lives, and
        // `dst` is a private buffer, which cannot overlap a mapping we created.
        unsafe { copy_out_of(self.base(), self.len(), offset, dst) }
    }

    /// Copies `src` into the mapping at `offset`. Returns false, copying nothing, if the mapping
    /// is read-only or the range does not lie inside it.
    pub(crate) fn copy_in(&mut self, offset: usize, src: &[u8]) -> bool {
        if !self.is_writable() {
            return false;
        }
        let len = self.len();
        let base = match self {
            Self::ReadOnly(_) => return false,
            Self::ReadWrite(map) => map.as_mut_ptr(),
            #[cfg(any(target_os = "linux", target_os = "macos"))]
            Self::SystemV(segment) => segment.as_mut_ptr(),
            #[cfg(windows)]
            Self::Section(section) => section.as_mut_ptr(),
        };
        // SAFETY: the mapping is `len` writable bytes for as long as `self` lives, and `src` is a
        // private buffer, which cannot overlap a mapping we created.
        unsafe { copy_into(base, len, offset, src) }
    }
}

/// Copies `src` into the `len` bytes at `base`, from `offset`. Returns false, copying nothing, if
/// it does not fit. Through raw pointers, never a slice, as [`copy_out_of`].
///
/// # Safety
/// `base` must point to `len` bytes that stay writable during the call and do not overlap `src`.
unsafe fn copy_into(base: *mut u8, len: usize, offset: usize, src: &[u8]) -> bool {
    if !fits(offset, src.len(), len) {
        return false;
    }
    // SAFETY: `offset + src.len() <= len` (checked above), so the destination lies inside the
    // `len` bytes the caller vouches for; they do not overlap `src` (the caller's promise).
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), base.add(offset), src.len()) };
    true
}

/// Copies what of `dst` the `len` bytes at `base` hold from `offset` on: the count copied (short
/// at the end, 0 past it). Through raw pointers, never a slice: another process may be writing
/// those bytes during the copy.
///
/// # Safety
/// `base` must point to `len` bytes that stay readable during the call and do not overlap `dst`.
unsafe fn copy_out_of(base: *const u8, len: usize, offset: usize, dst: &mut [u8]) -> usize {
    let count = dst.len().min(len.saturating_sub(offset));
    if count > 0 {
        // SAFETY: `offset + count <= len` (the line above), so the source lies inside the `len`
        // bytes the caller vouches for; they do not overlap `dst` (the caller's promise).
        unsafe { std::ptr::copy_nonoverlapping(base.add(offset), dst.as_mut_ptr(), count) };
    }
    count
}

fn fits(offset: usize, count: usize, len: usize) -> bool {
    offset.checked_add(count).is_some_and(|end| end <= len)
}

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
        // Short at the end, nothing past it, and never a panic on a huge offset.
        assert_eq!(map.copy_out_up_to(98, &mut out), 2);
        assert_eq!(out[..2], [1, 2]);
        assert_eq!(map.copy_out_up_to(100, &mut out), 0);
        assert_eq!(map.copy_out_up_to(usize::MAX, &mut out), 0);
        let read_only = Mapping::read_only(&file, 100).unwrap();
        let mut read_only = read_only;
        assert!(!read_only.copy_in(0, &[1]));
    }
}
