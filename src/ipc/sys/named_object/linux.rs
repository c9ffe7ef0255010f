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
    len: u64,
    file: File,
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
                len: meta.len(),
                file,
            }),
            Err(err) => {
                let _ = std::fs::remove_file(&path);
                Err(err)
            }
        }
    }
}

impl Created {
    pub(super) fn write_at(&self, at: u64, bytes: &[u8]) -> io::Result<()> {
        // Never past the end: a write there would grow the object under its readers.
        if at
            .checked_add(bytes.len() as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.file.write_all_at(bytes, at)
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
