//! Opening files and folders the one safe way: never through a planted link, never blocking on a
//! FIFO, never an existing one when a new one is meant. Every layer opens files through it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Makes `path` a new folder closed to others (0700): never one that exists, whoever made it,
/// and never its missing parents.
pub(crate) fn create_new_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(false);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// What kind of thing sits at a path, without following a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    Missing,
    RegularFile,
    Other(&'static str),
}

pub(crate) fn entry_at(path: &Path) -> io::Result<Entry> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(classify(&meta.file_type())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
        Err(err) => Err(err),
    }
}

pub(crate) fn classify(file_type: &fs::FileType) -> Entry {
    if file_type.is_file() {
        Entry::RegularFile
    } else if file_type.is_symlink() {
        Entry::Other("a symbolic link")
    } else if file_type.is_dir() {
        Entry::Other("a directory")
    } else {
        Entry::Other("a special file (FIFO, socket or device)")
    }
}

/// How to open a file: never through a symlink and never blocking on a FIFO.
pub(crate) enum OpenFor {
    Reading,
    ReadWrite,
    CreatingNew,
}

/// Opens a file, never through a link and never blocking on a FIFO, and checks that it is a
/// regular file.
pub(crate) fn open_file(path: &Path, how: OpenFor) -> io::Result<File> {
    let mut options = OpenOptions::new();
    match how {
        OpenFor::Reading => options.read(true),
        OpenFor::ReadWrite => options.read(true).write(true),
        OpenFor::CreatingNew => options.read(true).write(true).create_new(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    let file = options.open(path)?;
    match classify(&file.metadata()?.file_type()) {
        Entry::RegularFile => Ok(file),
        Entry::Other(what) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is {what}, not a regular file", path.display()),
        )),
        Entry::Missing => Err(io::ErrorKind::NotFound.into()),
    }
}

/// Reads exactly `buf.len()` bytes at `offset` (pread), without moving a file position.
#[cfg(unix)]
pub(crate) fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(unix)]
pub(crate) fn write_at(file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            read => {
                buf = &mut buf[read..];
                offset += read as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
pub(crate) fn write_at(file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    let written = std::os::windows::fs::FileExt::seek_write(file, buf, offset)?;
    if written == buf.len() {
        Ok(())
    } else {
        Err(io::ErrorKind::WriteZero.into())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn open_file_refuses_symlinks_and_fifos() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        fs::write(&target, b"x").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_file(&link, OpenFor::Reading).is_err());
        let fifo = tmp.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // Must return an error at once rather than block waiting for a FIFO writer.
        let err = open_file(&fifo, OpenFor::Reading).unwrap_err();
        assert!(err.to_string().contains("special file"), "{err}");
        assert!(open_file(&target, OpenFor::Reading).is_ok());
    }
}
