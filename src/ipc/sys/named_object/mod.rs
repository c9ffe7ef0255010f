//! Shared memory named exactly, as another framework names it (Qt's `setNativeKey`): what
//! Python's `multiprocessing.shared_memory`, Boost.Interprocess or an OpenCV pipeline create.
//! - Linux: `shm_open(NAME)` is the file `/dev/shm/NAME`, so plain file I/O does, no `unsafe`.
//! - macOS: `shm_open` objects are no files and cannot be `read`, only mapped.
//! - Windows: a named file mapping backed by the paging file (`CreateFileMappingW` with
//!   `INVALID_HANDLE_VALUE`, as Python creates it); it lives while a handle to it is open, and
//!   its size is what `VirtualQuery` says of a view: whole pages.
//!
//! Reads copy the bytes out into private buffers; a writer may write meanwhile (there is no
//! lock), which can only give wrong bytes, never undefined behaviour (see the module above).

use std::io;

/// An object another program made, opened read-only by its name (validated by the caller: one
/// name, no separators).
pub(crate) struct NamedObject {
    inner: imp::Opened,
}

impl NamedObject {
    /// Opens the object; an error of kind `NotFound` if nothing has that name.
    pub(crate) fn open(name: &str) -> io::Result<Self> {
        imp::Opened::open(name).map(|inner| Self { inner })
    }

    /// Its size in bytes (on Windows and macOS rounded up to whole pages).
    pub(crate) fn len(&self) -> u64 {
        self.inner.len()
    }

    /// The uid that owns it, where the OS has one.
    pub(crate) fn owner_uid(&self) -> Option<u32> {
        self.inner.owner_uid()
    }

    /// Copies up to `buf.len()` bytes from `at`; the count copied (short at the end).
    pub(crate) fn read_at(&self, at: u64, buf: &mut [u8]) -> usize {
        self.inner.read_at(at, buf)
    }

    /// Its first `limit` bytes, or all of them if it is shorter: a caller bounds what it
    /// allocates by what it needs, never by a size another program chose.
    pub(crate) fn read_prefix(&self, limit: u64) -> io::Result<Vec<u8>> {
        self.inner.read_prefix(limit)
    }
}

/// An object this process created (`create_new`): it is removed when this is dropped, if it is
/// still the one created here (on Windows it simply goes when its last handle closes).
pub(crate) struct CreatedObject {
    inner: imp::Created,
}

impl CreatedObject {
    /// Creates the object `name` holding `bytes` (not empty). Never opens an existing one: an
    /// error of kind `AlreadyExists` if the name is taken, by whatever program.
    pub(crate) fn create_new(name: &str, bytes: &[u8]) -> io::Result<Self> {
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an empty object cannot be shared",
            ));
        }
        imp::Created::create_new(name, bytes).map(|inner| Self { inner })
    }

    /// Writes `bytes` over what it holds from `at` on, in place: a reader copying meanwhile
    /// sees part old, part new bytes (a video source writes frames this way). The range must
    /// lie within what was created.
    #[allow(clippy::needless_pass_by_ref_mut)] // Linux writes through the file, others a view.
    pub(crate) fn write_at(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_at(at, bytes)
    }
}

/// Where the object `name` is, in the OS's own terms, for the inspector.
pub(crate) fn location(name: &str) -> String {
    imp::location(name)
}

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod imp;

#[cfg(target_os = "macos")]
#[path = "macos.rs"]
mod imp;

#[cfg(windows)]
pub(crate) use imp::{Section, Semaphore};
#[cfg(windows)]
#[path = "windows.rs"]
mod imp;

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
#[path = "other.rs"]
mod imp;

#[cfg(test)]
mod tests {
    use super::*;

    /// An object created here is read back exactly, and removed when dropped; its name cannot
    /// be taken again while it lives.
    #[test]
    fn created_objects_read_back_and_go_away() {
        let name = format!("shmimage-unit-{}", std::process::id());
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 31) as u8).collect();
        let created = CreatedObject::create_new(&name, &bytes).unwrap();
        let err = CreatedObject::create_new(&name, b"other").err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        let opened = NamedObject::open(&name).unwrap();
        assert!(opened.len() >= bytes.len() as u64);
        let read = opened.read_prefix(u64::MAX).unwrap();
        assert_eq!(&read[..bytes.len()], &bytes[..]);
        assert_eq!(opened.read_prefix(7).unwrap(), &bytes[..7]);
        let mut tail = [0u8; 8];
        assert_eq!(opened.read_at(9_996, &mut tail[..4]), 4);
        assert_eq!(&tail[..4], &bytes[9_996..]);
        drop(opened);
        drop(created);
        let gone = NamedObject::open(&name).err().unwrap();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
    }
}
