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
    _inner: imp::Created,
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
        imp::Created::create_new(name, bytes).map(|inner| Self { _inner: inner })
    }
}

/// Where the object `name` is, in the OS's own terms, for the inspector.
pub(crate) fn location(name: &str) -> String {
    imp::location(name)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::{FileExt, MetadataExt};
    use std::path::PathBuf;

    use crate::safe_fs::{Entry, OpenFor, entry_at, open_file};

    fn path(name: &str) -> PathBuf {
        PathBuf::from("/dev/shm").join(name)
    }

    pub(super) fn location(name: &str) -> String {
        path(name).display().to_string()
    }

    pub(super) struct Opened {
        file: File,
        len: u64,
        uid: u32,
    }

    impl Opened {
        pub(super) fn open(name: &str) -> io::Result<Self> {
            // Never through a symlink, never blocking on a FIFO.
            let path = path(name);
            let file = open_file(&path, OpenFor::Reading).map_err(|err| {
                match entry_at(&path) {
                    Ok(Entry::Other(what)) => io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} is {what}, not a shared-memory object, and shmimage never follows or opens one; remove it or choose another name",
                            path.display()
                        ),
                    ),
                    _ => err,
                }
            })?;
            let meta = file.metadata()?;
            Ok(Self {
                file,
                len: meta.len(),
                uid: meta.uid(),
            })
        }

        pub(super) fn len(&self) -> u64 {
            self.len
        }

        pub(super) fn owner_uid(&self) -> Option<u32> {
            Some(self.uid)
        }

        pub(super) fn read_at(&self, at: u64, buf: &mut [u8]) -> usize {
            self.file.read_at(buf, at).unwrap_or(0)
        }

        /// From the start each time (a second read must see the same bytes), at the size
        /// the file has now (a writer may resize it), at most `limit` bytes.
        pub(super) fn read_prefix(&self, limit: u64) -> io::Result<Vec<u8>> {
            let len = self.file.metadata()?.len().min(limit);
            let mut bytes = vec![0; usize::try_from(len).map_err(|_| io::ErrorKind::FileTooLarge)?];
            let mut filled = 0;
            while filled < bytes.len() {
                match self.file.read_at(&mut bytes[filled..], filled as u64) {
                    Ok(0) => break,
                    Ok(read) => filled += read,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Err(err),
                }
            }
            bytes.truncate(filled);
            Ok(bytes)
        }
    }

    pub(super) struct Created {
        path: PathBuf,
        inode: u64,
    }

    impl Created {
        pub(super) fn create_new(name: &str, bytes: &[u8]) -> io::Result<Self> {
            use std::io::Write;
            let path = path(name);
            let mut file = open_file(&path, OpenFor::CreatingNew)?;
            match file.write_all(bytes).and_then(|()| file.metadata()) {
                Ok(meta) => Ok(Self {
                    path,
                    inode: meta.ino(),
                }),
                Err(err) => {
                    let _ = std::fs::remove_file(&path);
                    Err(err)
                }
            }
        }
    }

    impl Drop for Created {
        fn drop(&mut self) {
            // Only ours: another program may have replaced it under the same name meanwhile.
            if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

#[cfg(target_os = "macos")]
mod imp {
    use std::ffi::CString;
    use std::fs::File;
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd};

    use super::super::Mapping;

    /// `shm_open`'s name: one leading `/`, which portable programs (and Python) put there.
    fn shm_name(name: &str) -> io::Result<CString> {
        CString::new(format!("/{name}")).map_err(|_| io::ErrorKind::InvalidInput.into())
    }

    pub(super) fn location(name: &str) -> String {
        format!("shm_open(\"/{name}\")")
    }

    fn shm_open(name: &str, flags: libc::c_int) -> io::Result<File> {
        let name = shm_name(name)?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call; the mode is passed
        // as the variadic `unsigned int` that macOS's shm_open reads when O_CREAT is set.
        let fd = unsafe { libc::shm_open(name.as_ptr(), flags, 0o600 as libc::c_uint) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by shm_open, is open, and nothing else owns it.
        Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// A crc of the first `len` bytes the object `name` holds now, if it can be read. Only
    /// those: XNU rounds an object's size up to whole pages, and the rest reads as zeros.
    fn content_crc(name: &str, len: usize) -> Option<u32> {
        let opened = Opened::open(name).ok()?;
        Some(crc32fast::hash(&opened.read_prefix(len as u64).ok()?))
    }

    pub(super) struct Opened {
        map: Option<Mapping>,
        len: u64,
        uid: u32,
    }

    impl Opened {
        pub(super) fn open(name: &str) -> io::Result<Self> {
            use std::os::unix::fs::MetadataExt;
            let file = shm_open(name, libc::O_RDONLY)?;
            let meta = file.metadata()?;
            let len = meta.len();
            let map = match usize::try_from(len) {
                Ok(0) => None,
                Ok(len) => Some(Mapping::read_only(&file, len)?),
                Err(_) => return Err(io::ErrorKind::FileTooLarge.into()),
            };
            Ok(Self {
                map,
                len,
                uid: meta.uid(),
            })
        }

        pub(super) fn len(&self) -> u64 {
            self.len
        }

        pub(super) fn owner_uid(&self) -> Option<u32> {
            Some(self.uid)
        }

        pub(super) fn read_at(&self, at: u64, buf: &mut [u8]) -> usize {
            let Some(map) = &self.map else { return 0 };
            usize::try_from(at).map_or(0, |at| map.copy_out_up_to(at, buf))
        }

        pub(super) fn read_prefix(&self, limit: u64) -> io::Result<Vec<u8>> {
            let len =
                usize::try_from(self.len.min(limit)).map_err(|_| io::ErrorKind::FileTooLarge)?;
            let mut bytes = vec![0; len];
            self.read_at(0, &mut bytes);
            Ok(bytes)
        }
    }

    pub(super) struct Created {
        name: String,
        len: usize,
        crc: u32,
    }

    fn unlink(name: &str) {
        if let Ok(name) = shm_name(name) {
            // SAFETY: `name` is a NUL-terminated string that outlives the call.
            unsafe { libc::shm_unlink(name.as_ptr()) };
        }
    }

    impl Created {
        pub(super) fn create_new(name: &str, bytes: &[u8]) -> io::Result<Self> {
            let file = shm_open(name, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL)?;
            let created = Self {
                name: name.to_owned(),
                len: bytes.len(),
                crc: crc32fast::hash(bytes),
            };
            // macOS sizes an object once, then maps it to fill it. The object is ours from
            // O_EXCL on: a failure after it removes it, or its name would stay taken.
            let filled = file
                .set_len(bytes.len() as u64)
                .and_then(|()| Mapping::read_write(&file, bytes.len()))
                .and_then(|mut map| {
                    if map.copy_in(0, bytes) {
                        Ok(())
                    } else {
                        Err(io::ErrorKind::WriteZero.into())
                    }
                });
            if let Err(err) = filled {
                unlink(name);
                return Err(err);
            }
            Ok(created)
        }
    }

    impl Drop for Created {
        fn drop(&mut self) {
            // Only ours, still holding what was written: another program may have replaced it
            // under the same name meanwhile (macOS gives objects no inode to compare).
            if content_crc(&self.name, self.len) == Some(self.crc) {
                unlink(&self.name);
            }
        }
    }
}

#[cfg(windows)]
mod imp {
    use std::io;
    use std::os::windows::ffi::OsStrExt;

    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_ALREADY_EXISTS, GetLastError, HANDLE, INVALID_HANDLE_VALUE,
    };
    use windows_sys::Win32::System::Memory::{
        CreateFileMappingW, FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION,
        MEMORY_MAPPED_VIEW_ADDRESS, MapViewOfFile, OpenFileMappingW, PAGE_READWRITE,
        UnmapViewOfFile, VirtualQuery,
    };

    pub(super) fn location(name: &str) -> String {
        format!("the named file mapping \"{name}\"")
    }

    fn wide(name: &str) -> Vec<u16> {
        std::ffi::OsStr::new(name)
            .encode_wide()
            .chain(std::iter::once(0))
            .collect()
    }

    /// A mapping handle, closed when dropped.
    struct Handle(HANDLE);

    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: the handle was returned open by Create/OpenFileMappingW and is closed once.
            unsafe { CloseHandle(self.0) };
        }
    }

    /// A view of a mapping, unmapped when dropped.
    struct View {
        base: MEMORY_MAPPED_VIEW_ADDRESS,
        len: usize,
    }

    impl View {
        fn map(handle: &Handle, access: u32, len: usize) -> io::Result<Self> {
            // SAFETY: `handle` is an open mapping handle; a length of 0 maps all of it.
            let base = unsafe { MapViewOfFile(handle.0, access, 0, 0, len) };
            if base.Value.is_null() {
                return Err(io::Error::last_os_error());
            }
            let mut view = Self { base, len };
            if len == 0 {
                view.len = view.region_size()?;
            }
            Ok(view)
        }

        /// What Python's `VirtualQuerySize` does: the size of the region the view starts, in
        /// whole pages.
        fn region_size(&self) -> io::Result<usize> {
            let mut info = MEMORY_BASIC_INFORMATION::default();
            // SAFETY: `info` is a writable buffer of the size passed; the address is our view's.
            let written = unsafe {
                VirtualQuery(
                    self.base.Value,
                    &mut info,
                    std::mem::size_of::<MEMORY_BASIC_INFORMATION>(),
                )
            };
            if written == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(info.RegionSize)
        }
    }

    impl Drop for View {
        fn drop(&mut self) {
            // SAFETY: `base` was returned by MapViewOfFile and is unmapped once.
            unsafe { UnmapViewOfFile(self.base) };
        }
    }

    pub(super) struct Opened {
        view: View,
        _handle: Handle,
    }

    impl Opened {
        pub(super) fn open(name: &str) -> io::Result<Self> {
            let name = wide(name);
            // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
            let handle = unsafe { OpenFileMappingW(FILE_MAP_READ, 0, name.as_ptr()) };
            if handle.is_null() {
                // ERROR_FILE_NOT_FOUND becomes io::ErrorKind::NotFound.
                return Err(io::Error::last_os_error());
            }
            let handle = Handle(handle);
            let view = View::map(&handle, FILE_MAP_READ, 0)?;
            Ok(Self {
                view,
                _handle: handle,
            })
        }

        pub(super) fn len(&self) -> u64 {
            self.view.len as u64
        }

        pub(super) fn owner_uid(&self) -> Option<u32> {
            None
        }

        pub(super) fn read_at(&self, at: u64, buf: &mut [u8]) -> usize {
            let Ok(at) = usize::try_from(at) else {
                return 0;
            };
            // SAFETY: the view is `view.len` readable bytes, mapped until `self` is dropped; `buf`
            // is a private buffer, which cannot overlap it.
            unsafe {
                crate::ipc::sys::copy_out_of(
                    self.view.base.Value.cast::<u8>(),
                    self.view.len,
                    at,
                    buf,
                )
            }
        }

        pub(super) fn read_prefix(&self, limit: u64) -> io::Result<Vec<u8>> {
            let len =
                usize::try_from(limit).map_or(self.view.len, |limit| limit.min(self.view.len));
            let mut bytes = vec![0; len];
            self.read_at(0, &mut bytes);
            Ok(bytes)
        }
    }

    pub(super) struct Created {
        _handle: Handle,
    }

    impl Created {
        pub(super) fn create_new(name: &str, bytes: &[u8]) -> io::Result<Self> {
            let name = wide(name);
            let size = bytes.len() as u64;
            // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call; a null
            // SECURITY_ATTRIBUTES means the default ones; INVALID_HANDLE_VALUE backs the mapping
            // with the paging file, as Python's SharedMemory does.
            let handle = unsafe {
                CreateFileMappingW(
                    INVALID_HANDLE_VALUE,
                    std::ptr::null(),
                    PAGE_READWRITE,
                    (size >> 32) as u32,
                    size as u32,
                    name.as_ptr(),
                )
            };
            if handle.is_null() {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: GetLastError has no preconditions; read at once, before any other call.
            let existed = unsafe { GetLastError() } == ERROR_ALREADY_EXISTS;
            let handle = Handle(handle);
            if existed {
                // The handle is the other program's mapping: closing ours leaves it untouched.
                return Err(io::ErrorKind::AlreadyExists.into());
            }
            let view = View::map(&handle, FILE_MAP_WRITE, bytes.len())?;
            // SAFETY: the view is `view.len` writable bytes of a mapping created just now, mapped
            // until `view` is dropped; `bytes` is a private buffer, which cannot overlap it.
            let copied = unsafe {
                crate::ipc::sys::copy_into(view.base.Value.cast::<u8>(), view.len, 0, bytes)
            };
            if !copied {
                return Err(io::ErrorKind::WriteZero.into());
            }
            Ok(Self { _handle: handle })
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod imp {
    use std::io;

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "native keys work on Linux, macOS and Windows only",
        )
    }

    pub(super) fn location(name: &str) -> String {
        name.to_owned()
    }

    pub(super) struct Opened;

    impl Opened {
        pub(super) fn open(_name: &str) -> io::Result<Self> {
            Err(unsupported())
        }
        pub(super) fn len(&self) -> u64 {
            0
        }
        pub(super) fn owner_uid(&self) -> Option<u32> {
            None
        }
        pub(super) fn read_at(&self, _at: u64, _buf: &mut [u8]) -> usize {
            0
        }
        pub(super) fn read_prefix(&self, _limit: u64) -> io::Result<Vec<u8>> {
            Err(unsupported())
        }
    }

    pub(super) struct Created;

    impl Created {
        pub(super) fn create_new(_name: &str, _bytes: &[u8]) -> io::Result<Self> {
            Err(unsupported())
        }
    }
}

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
