use std::io;
use std::os::windows::ffi::OsStrExt;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ALREADY_EXISTS, GetLastError, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION,
    MEMORY_MAPPED_VIEW_ADDRESS, MapViewOfFile, OpenFileMappingW, PAGE_READWRITE, UnmapViewOfFile,
    VirtualQuery,
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
            crate::ipc::sys::copy_out_of(self.view.base.Value.cast::<u8>(), self.view.len, at, buf)
        }
    }

    pub(super) fn read_prefix(&self, limit: u64) -> io::Result<Vec<u8>> {
        let len = usize::try_from(limit).map_or(self.view.len, |limit| limit.min(self.view.len));
        let mut bytes = vec![0; len];
        self.read_at(0, &mut bytes);
        Ok(bytes)
    }
}

/// `CreateFileMappingW` backed by the paging file (`INVALID_HANDLE_VALUE`), as Python's
/// SharedMemory and Qt create one: the handle, and whether the name was taken already (then the
/// handle is to the existing mapping, whatever its size).
fn create_mapping(name: &str, size: usize) -> io::Result<(Handle, bool)> {
    let name = wide(name);
    let size = size as u64;
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call; null
    // SECURITY_ATTRIBUTES are the default ones.
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
    Ok((Handle(handle), existed))
}

pub(super) struct Created {
    view: View,
    _handle: Handle,
}

impl Created {
    pub(super) fn create_new(name: &str, bytes: &[u8]) -> io::Result<Self> {
        let (handle, existed) = create_mapping(name, bytes.len())?;
        if existed {
            // The handle is the other program's mapping: closing ours leaves it untouched.
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        let view = View::map(&handle, FILE_MAP_WRITE, bytes.len())?;
        // SAFETY: the view is `view.len` writable bytes of a mapping created just now, mapped
        // until `view` is dropped; `bytes` is a private buffer, which cannot overlap it.
        let copied =
            unsafe { crate::ipc::sys::copy_into(view.base.Value.cast::<u8>(), view.len, 0, bytes) };
        if !copied {
            return Err(io::ErrorKind::WriteZero.into());
        }
        Ok(Self {
            view,
            _handle: handle,
        })
    }

    pub(super) fn write_at(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        let at = usize::try_from(at).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: the view is `view.len` writable bytes of our mapping, mapped until `self` is
        // dropped; `bytes` is a private buffer, which cannot overlap it; the range is checked.
        let copied = unsafe {
            crate::ipc::sys::copy_into(self.view.base.Value.cast::<u8>(), self.view.len, at, bytes)
        };
        if copied {
            Ok(())
        } else {
            Err(io::ErrorKind::WriteZero.into())
        }
    }
}

/// A named file mapping as Qt's `QSharedMemory` uses one on Windows: created with a size or
/// opened by name, with one view of all of it, kept until dropped (the kernel frees the
/// mapping when the last handle and view anywhere are gone, a killed process's included).
pub(crate) struct Section {
    view: View,
    _handle: Handle,
    writable: bool,
}

// SAFETY: a mapping handle and a view belong to the process, not to a thread: any thread may use
// or close them, and a `Section` is written only through `&mut`.
unsafe impl Send for Section {}

impl Section {
    /// Qt's `create(size)`: `CreateFileMappingW` backed by the paging file. If the name is taken
    /// already, the existing mapping is opened instead and `existed` is true (Qt's create would
    /// fail there with "already exists").
    pub(crate) fn create(name: &str, size: usize) -> io::Result<(Self, bool)> {
        let (handle, existed) = create_mapping(name, size)?;
        let view = View::map(&handle, FILE_MAP_READ | FILE_MAP_WRITE, 0)?;
        Ok((
            Self {
                view,
                _handle: handle,
                writable: true,
            },
            existed,
        ))
    }

    /// Qt's `attach(mode)`: `OpenFileMappingW` and a view of the whole mapping.
    pub(crate) fn open(name: &str, writable: bool) -> io::Result<Self> {
        let access = if writable {
            FILE_MAP_READ | FILE_MAP_WRITE
        } else {
            FILE_MAP_READ
        };
        let wide_name = wide(name);
        // SAFETY: `wide_name` is a NUL-terminated UTF-16 string that outlives the call.
        let handle = unsafe { OpenFileMappingW(access, 0, wide_name.as_ptr()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        let handle = Handle(handle);
        let view = View::map(&handle, access, 0)?;
        Ok(Self {
            view,
            _handle: handle,
            writable,
        })
    }

    /// Qt's `size()`: the whole pages of the view.
    pub(crate) fn len(&self) -> usize {
        self.view.len
    }

    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.view.base.Value.cast::<u8>()
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.view.base.Value.cast::<u8>()
    }
}

/// A named semaphore as Qt's `QSystemSemaphore` uses one on Windows, opened only for as long as
/// it is needed: a handle kept while idle would keep a count of 0 alive that a killed holder left.
pub(crate) struct Semaphore(Handle);

impl Semaphore {
    /// Qt's `handle()`: `CreateSemaphoreW` with an initial count of 1 and a maximum of
    /// `MAXLONG`; an existing semaphore is opened with its count as it is.
    pub(crate) fn open(name: &str) -> io::Result<Self> {
        use windows_sys::Win32::System::Threading::CreateSemaphoreW;
        let wide_name = wide(name);
        // SAFETY: `wide_name` is a NUL-terminated UTF-16 string that outlives the call.
        let handle = unsafe { CreateSemaphoreW(std::ptr::null(), 1, i32::MAX, wide_name.as_ptr()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(Handle(handle)))
    }

    /// Whether a semaphore of that name exists, without creating one.
    pub(crate) fn exists(name: &str) -> bool {
        use windows_sys::Win32::System::Threading::{OpenSemaphoreW, SYNCHRONIZATION_SYNCHRONIZE};
        let wide_name = wide(name);
        // SAFETY: `wide_name` is a NUL-terminated UTF-16 string that outlives the call.
        let handle = unsafe { OpenSemaphoreW(SYNCHRONIZATION_SYNCHRONIZE, 0, wide_name.as_ptr()) };
        if handle.is_null() {
            return false;
        }
        drop(Handle(handle));
        true
    }

    /// Qt's `acquire()`, but for at most `wait`: true if taken, false if the wait ran out.
    pub(crate) fn acquire(&self, wait: std::time::Duration) -> io::Result<bool> {
        use windows_sys::Win32::Foundation::{WAIT_OBJECT_0, WAIT_TIMEOUT};
        use windows_sys::Win32::System::Threading::WaitForSingleObject;
        let millis = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX - 1);
        // SAFETY: the handle is an open semaphore handle.
        match unsafe { WaitForSingleObject(self.0.0, millis) } {
            WAIT_OBJECT_0 => Ok(true),
            WAIT_TIMEOUT => Ok(false),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Qt's `release()`.
    pub(crate) fn release(&self) -> io::Result<()> {
        use windows_sys::Win32::System::Threading::ReleaseSemaphore;
        // SAFETY: the handle is an open semaphore handle; the previous count is not asked for.
        if unsafe { ReleaseSemaphore(self.0.0, 1, std::ptr::null_mut()) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
