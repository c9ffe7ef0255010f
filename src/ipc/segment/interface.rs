//! What every kind of segment offers, in Qt's words: the interface the protocols are written
//! against.

use std::path::Path;
use std::sync::Arc;

use super::{AccessMode, Patience, SegmentAccess, SharedMemory, ShmError};

/// Qt's `QSharedMemory` operations, as every kind of segment offers them: this project's
/// crash-safe segment files ([`SharedMemory`]) and, on Linux, the System V and POSIX objects Qt
/// itself uses (`crate::ipc::qt`). The protocols in `crate::protocol` are written against this.
pub trait Segment: Send {
    /// The name the OS knows the segment by (file stem, or Qt's key file path).
    fn native_key(&self) -> &str;
    /// Where the attached segment can be seen on disk, if anywhere.
    fn path(&self) -> Option<&Path>;
    /// Creates a segment of `size` bytes that replaces any current one for new readers, attaches
    /// read-write, and returns with the lock held so the bytes can be filled before anyone looks.
    fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError>;
    /// Attaches to the current segment, as Qt's `attach(mode)`.
    fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError>;
    /// Takes the lock and gives access to the attached segment's bytes while it is held.
    fn lock(&mut self) -> Result<SegmentAccess<'_>, ShmError>;
    /// Detaches, as Qt's `detach()`; false if nothing was attached.
    fn detach(&mut self) -> bool;
    /// Size in bytes of the attached segment (0 when detached).
    fn size(&self) -> usize;
    /// What lock waits ask whether to go on past the timeout (see [`Patience`]).
    fn set_patience(&mut self, patience: Option<Arc<dyn Patience>>);
    /// The OS object that holds the bytes, for the protocol journal.
    fn describe_segment(&self) -> String;
    /// The OS object that is the lock, for the protocol journal.
    fn describe_lock(&self) -> String;
    /// A sentence about something the last create or attach cleaned up, for the status line.
    fn cleanup_note(&self) -> Option<&str> {
        None
    }
    /// The process that created the attached segment, where the OS records it.
    fn creator_pid(&self) -> Option<u32> {
        None
    }
}

impl Segment for SharedMemory {
    fn native_key(&self) -> &str {
        SharedMemory::native_key(self)
    }
    fn path(&self) -> Option<&Path> {
        SharedMemory::path(self)
    }
    fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError> {
        SharedMemory::create_replacing_locked(self, size)
    }
    fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError> {
        SharedMemory::attach(self, mode)
    }
    fn lock(&mut self) -> Result<SegmentAccess<'_>, ShmError> {
        SharedMemory::lock(self)
    }
    fn detach(&mut self) -> bool {
        SharedMemory::detach(self)
    }
    fn size(&self) -> usize {
        SharedMemory::size(self)
    }
    fn set_patience(&mut self, patience: Option<Arc<dyn Patience>>) {
        SharedMemory::set_patience(self, patience);
    }
    fn cleanup_note(&self) -> Option<&str> {
        self.cleanup_note.as_deref()
    }
    fn describe_segment(&self) -> String {
        match self.path() {
            Some(path) => format!("segment file {}", path.display()),
            None => format!(
                "segment files {}.g*.seg in {}",
                self.native_key,
                self.dir().display()
            ),
        }
    }
    fn describe_lock(&self) -> String {
        let how = if cfg!(windows) { "LockFileEx" } else { "flock" };
        format!("{how} on {}", self.lock_path().display())
    }
}
