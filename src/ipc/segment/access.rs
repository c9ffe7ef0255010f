//! The bytes of a locked segment: what Qt's `data()` gives between `lock()` and `unlock()`, as
//! copies in and out.

use std::fs::File;
use std::path::Path;

use super::ShmError;
use crate::ipc::sys::Mapping;

/// Access to the segment's bytes while the key's lock is held (Qt's `lock()` … `unlock()`).
/// There is deliberately no `&[u8]` into the segment: bytes are copied in or out, and the copy
/// is what gets validated.
pub struct SegmentAccess<'a> {
    mapping: &'a mut Mapping,
    /// The segment file, if there is one: reads go through it (`pread`) rather than through the
    /// mapping, so the reader's resident memory holds only its private copy, and a file cut
    /// short by another process is a read error instead of SIGBUS.
    file: Option<(&'a File, &'a Path)>,
    generation: u64,
    _held: Box<dyn HeldLock + 'a>,
}

/// Whatever proves a segment's lock is held (a key lock, a System V or POSIX semaphore): it is
/// only kept, and dropping it releases the lock.
pub(crate) trait HeldLock {}
impl<T> HeldLock for T {}

impl<'a> SegmentAccess<'a> {
    /// Access to `mapping` while `held` keeps the lock; `file` is the segment file to `pread`
    /// from, where there is one.
    pub(crate) fn new(
        mapping: &'a mut Mapping,
        file: Option<(&'a File, &'a Path)>,
        generation: u64,
        held: impl HeldLock + 'a,
    ) -> Self {
        Self {
            mapping,
            file,
            generation,
            _held: Box::new(held),
        }
    }
}

impl SegmentAccess<'_> {
    pub fn size(&self) -> usize {
        self.mapping.len()
    }

    /// Generation of the segment (0 in Qt-compatible mode, whose segments have none).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The segment's file, where it has one (not System V).
    pub fn path(&self) -> Option<&Path> {
        self.file.map(|(_, path)| path)
    }

    /// Qt's `unlock()`: gives the lock back. Dropping the access does the same; this says so
    /// where the steps are read.
    pub fn unlock(self) {
        drop(self);
    }

    /// Copies `dst.len()` bytes from `offset` into `dst`.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result<(), ShmError> {
        if let Some((file, path)) = self.file {
            if offset
                .checked_add(dst.len())
                .is_none_or(|end| end > self.size())
            {
                return Err(self.out_of_range(offset, dst.len()));
            }
            return crate::safe_fs::read_at(file, offset as u64, dst).map_err(|err| {
                ShmError::Tampered {
                    path: path.to_path_buf(),
                    detail: format!("reading it failed ({err}); it was cut short"),
                }
            });
        }
        if self.mapping.copy_out(offset, dst) {
            Ok(())
        } else {
            Err(self.out_of_range(offset, dst.len()))
        }
    }

    /// Copies `src` into the segment at `offset` (read-write attachments only).
    pub fn write(&mut self, offset: usize, src: &[u8]) -> Result<(), ShmError> {
        if !self.mapping.is_writable() {
            return Err(ShmError::ReadOnly);
        }
        if self.mapping.copy_in(offset, src) {
            Ok(())
        } else {
            Err(self.out_of_range(offset, src.len()))
        }
    }

    fn out_of_range(&self, offset: usize, len: usize) -> ShmError {
        ShmError::InvalidSize {
            size: self.size() as u64,
            reason: format!(
                "bytes {offset}..{} lie outside the segment",
                offset.saturating_add(len)
            ),
        }
    }
}
