//! The project's only unsafe code: mapping a segment file, copying bytes across the mapping, and
//! the few OS calls the standard library lacks.
//!
//! Why mapping is unsafe at all: the bytes behind a mapping belong to a file that other processes
//! can write, and a process that shrinks the file makes our next access to the lost pages raise
//! SIGBUS. Two rules keep this sound in practice:
//! - segment files live in a directory only this user can enter (see `dir.rs`), are never
//!   truncated by this program, and every copy first checks (under the segment lock) that the
//!   file still covers the mapping;
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
        // SAFETY: as for `read_only`; writes go through `copy_in` and `fill_with`, under the lock.
        let map = unsafe { MmapOptions::new().len(len).map_mut(file)? };
        Ok(Self::ReadWrite(map))
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::ReadOnly(map) => map.len(),
            Self::ReadWrite(map) => map.len(),
        }
    }

    pub(crate) fn is_writable(&self) -> bool {
        matches!(self, Self::ReadWrite(_))
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
        };
        // SAFETY: `offset + dst.len() <= self.len()` was checked above, so the source range lies in
        // the mapping; `dst` is a private buffer and cannot overlap a mapping we created.
        unsafe { std::ptr::copy_nonoverlapping(base.add(offset), dst.as_mut_ptr(), dst.len()) };
        true
    }

    /// Copies `src` into the mapping at `offset`. Returns false, copying nothing, if the mapping
    /// is read-only or the range does not lie inside it.
    pub(crate) fn copy_in(&mut self, offset: usize, src: &[u8]) -> bool {
        let len = self.len();
        let Self::ReadWrite(map) = self else {
            return false;
        };
        if !fits(offset, src.len(), len) {
            return false;
        }
        // SAFETY: the destination range lies inside the writable mapping (checked above) and `src`
        // is a private buffer, so the two cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), map.as_mut_ptr().add(offset), src.len())
        };
        true
    }

    /// Flushes written pages; harmless on tmpfs, and on Windows it makes the bytes visible to
    /// processes that open the file rather than the mapping.
    pub(crate) fn flush(&self) -> io::Result<()> {
        match self {
            Self::ReadOnly(_) => Ok(()),
            Self::ReadWrite(map) => map.flush_async(),
        }
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

/// Closes the console window that Windows opened for this process when it was started from
/// Explorer (a console nobody else shares), so the app shows only its window. Started from a
/// terminal, the console is the terminal's and is kept, so `shmimage put` still prints there.
#[cfg(windows)]
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

#[cfg(not(windows))]
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
