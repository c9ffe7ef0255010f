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
    pub(super) fn write_at(&mut self, _at: u64, _bytes: &[u8]) -> io::Result<()> {
        Err(unsupported())
    }
}
