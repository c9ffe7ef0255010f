//! Qt 6.6+'s protocol with a `QNativeIpcKey`: POSIX shared memory and a named semaphore called
//! after the key (`crate::ipc::qt::posix`, on macOS `posix_macos`), holding Qt's `QDataStream`
//! PNG.

use image::RgbaImage;

#[cfg(target_os = "linux")]
use super::ChangeWatch;
use super::{
    AttachedReader, Endpoint, Fetched, Inspection, Options, Protocol, Publication, Recorder,
    ShareError,
};
use crate::codec::Encoding;
#[cfg(target_os = "linux")]
use crate::ipc::qt::posix::Qt6SharedMemory;
#[cfg(target_os = "macos")]
use crate::ipc::qt::posix_macos::Qt6SharedMemory;
use crate::sentence::{Sentence, sentence};

pub(super) struct Qt6Protocol {
    key: String,
    options: Options,
    recorder: Recorder,
}

impl Qt6Protocol {
    /// Checks the key at once: in this mode it names a file in /dev/shm (an object of at most
    /// 31 bytes on macOS).
    pub(super) fn new(endpoint: &Endpoint) -> Result<Self, ShareError> {
        Qt6SharedMemory::new(&endpoint.key)?;
        Ok(Self {
            key: endpoint.key.clone(),
            options: endpoint.options.clone(),
            recorder: Recorder::new(endpoint),
        })
    }

    fn segment(&self) -> Result<Box<Qt6SharedMemory>, ShareError> {
        let mut shm = Qt6SharedMemory::new(&self.key)?;
        shm.set_lock_timeout(self.options.lock_timeout);
        shm.set_replaceable(super::qt::QT_IMAGE);
        Ok(Box::new(shm))
    }
}

impl Protocol for Qt6Protocol {
    fn publish(&self, image: &RgbaImage, _encoding: Encoding) -> Result<Publication, ShareError> {
        super::qt::publish(&self.recorder, self.segment()?, image)
    }

    fn fetch(&self) -> Result<Fetched, ShareError> {
        super::qt::fetch(&self.recorder, self.segment()?, &self.options.faults)
    }

    fn inspect(&self) -> Result<Inspection, ShareError> {
        let qt6 = self.segment()?.inspect();
        let mut inspection = Inspection::new(&self.key);
        inspection.row("mode", sentence!("Qt 6 compatible (POSIX)"));
        inspection.row(
            "segment",
            match qt6.segment_size {
                Some(size) => sentence!(
                    "%{name} (%{bytes} bytes)",
                    name = &qt6.segment,
                    bytes = size
                ),
                None => super::nothing_shared(),
            },
        );
        inspection.row(
            "semaphore",
            if qt6.semaphore_exists {
                Sentence::as_is(&qt6.semaphore)
            } else {
                sentence!("%{name} (none)", name = &qt6.semaphore)
            },
        );
        Ok(inspection)
    }

    /// The segment's inode: a new one for every segment created (a Qt 6 writer that rewrites
    /// its segment in place keeps it).
    fn newest_generation(&self) -> Result<Option<u64>, ShareError> {
        Ok(self.segment()?.inspect().segment_id)
    }

    fn attach(&self) -> Result<AttachedReader, ShareError> {
        AttachedReader::new(self.segment()?)
    }

    /// Qt 6's example creates a new `/dev/shm/KEY` for every image (it detaches, then creates).
    /// A writer that rewrites its segment in place makes no file event, and keeps the inode
    /// that `newest_generation` reports: Follow cannot see such a rewrite.
    /// macOS shows no such file, so Follow polls there.
    #[cfg(target_os = "linux")]
    fn change_watch(&self) -> Option<ChangeWatch> {
        let segment = self.segment().ok()?;
        let path = std::path::Path::new(crate::ipc::segment::Segment::native_key(segment.as_ref()));
        Some(ChangeWatch {
            dir: path.parent()?.to_path_buf(),
            file_prefix: path.file_name()?.to_str()?.to_owned(),
            file_suffix: String::new(),
            probe_too: false,
        })
    }
}
