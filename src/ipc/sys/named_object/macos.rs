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
        let len = usize::try_from(self.len.min(limit)).map_err(|_| io::ErrorKind::FileTooLarge)?;
        let mut bytes = vec![0; len];
        self.read_at(0, &mut bytes);
        Ok(bytes)
    }
}

pub(super) struct Created {
    name: String,
    len: usize,
    /// Of what was written last, to tell this object from a later one of the same name.
    crc: u32,
    map: Mapping,
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
        // macOS sizes an object once, then maps it to fill it. The object is ours from
        // O_EXCL on: a failure after it removes it, or its name would stay taken.
        let filled = file
            .set_len(bytes.len() as u64)
            .and_then(|()| Mapping::read_write(&file, bytes.len()))
            .and_then(|mut map| {
                if map.copy_in(0, bytes) {
                    Ok(map)
                } else {
                    Err(io::ErrorKind::WriteZero.into())
                }
            });
        match filled {
            Ok(map) => Ok(Self {
                name: name.to_owned(),
                len: bytes.len(),
                crc: crc32fast::hash(bytes),
                map,
            }),
            Err(err) => {
                unlink(name);
                Err(err)
            }
        }
    }

    pub(super) fn write_at(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        let at = usize::try_from(at).map_err(|_| io::ErrorKind::InvalidInput)?;
        if !self.map.copy_in(at, bytes) {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let mut now = vec![0; self.len];
        self.map.copy_out(0, &mut now);
        self.crc = crc32fast::hash(&now);
        Ok(())
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
