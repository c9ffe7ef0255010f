//! Qt's protocol on Windows, for both modes: Qt 5 (and Qt 6 with a `QString` key) names its
//! objects `qipc_sharedmemory_…` and `qipc_systemsem_…`, Qt 6.6+'s example uses the key itself
//! (`crate::ipc::qt::windows`). The steps and the `QDataStream` PNG are those of `qt.rs`.

use image::RgbaImage;

use super::{
    AttachedReader, Endpoint, Fetched, Inspection, Options, Protocol, Publication, Recorder,
    ShareError,
};
use crate::codec::Encoding;
use crate::ipc::qt::WindowsKey;
use crate::ipc::qt::windows::{KeptSemaphore, QtWindowsSharedMemory};
use crate::sentence::sentence;

pub(super) struct QtWindowsProtocol {
    key: String,
    kind: WindowsKey,
    options: Options,
    recorder: Recorder,
}

impl QtWindowsProtocol {
    /// Checks the key at once: Qt 6 uses it as the objects' name.
    pub(super) fn new(endpoint: &Endpoint, kind: WindowsKey) -> Result<Self, ShareError> {
        QtWindowsSharedMemory::new(&endpoint.key, kind)?;
        Ok(Self {
            key: endpoint.key.clone(),
            kind,
            options: endpoint.options.clone(),
            recorder: Recorder::new(endpoint),
        })
    }

    /// The protocol of the endpoint's Qt mode: Qt 5's names, or Qt 6.6+'s `QNativeIpcKey`.
    pub(super) fn of_mode(endpoint: &Endpoint) -> Result<Self, ShareError> {
        let kind = match endpoint.mode {
            super::Mode::Qt6 => WindowsKey::Native,
            _ => WindowsKey::Legacy,
        };
        Self::new(endpoint, kind)
    }

    /// Whether Qt's own `create(size)` would succeed now: it is made, call for call.
    pub(super) fn create_as_qt_does(&self, size: usize) -> Result<(), ShareError> {
        Ok(self.segment()?.create_as_qt_does(size)?)
    }

    /// Qt's semaphore, kept open as a Qt program that has loaded once keeps it.
    pub(super) fn keep_semaphore_open(&self) -> Result<KeptSemaphore, ShareError> {
        Ok(self.segment()?.keep_semaphore_open()?)
    }

    fn segment(&self) -> Result<Box<QtWindowsSharedMemory>, ShareError> {
        let mut shm = QtWindowsSharedMemory::new(&self.key, self.kind)?;
        shm.set_lock_timeout(self.options.lock_timeout);
        shm.set_replaceable(super::qt::QT_IMAGE);
        Ok(Box::new(shm))
    }
}

impl Protocol for QtWindowsProtocol {
    fn publish(&self, image: &RgbaImage, _encoding: Encoding) -> Result<Publication, ShareError> {
        super::qt::publish(&self.recorder, self.segment()?, image)
    }

    fn fetch(&self) -> Result<Fetched, ShareError> {
        super::qt::fetch(&self.recorder, self.segment()?, &self.options.faults)
    }

    fn inspect(&self) -> Result<Inspection, ShareError> {
        let qt = self.segment()?.inspect();
        let mut inspection = Inspection::new(&self.key);
        inspection.row(
            "mode",
            match self.kind {
                WindowsKey::Legacy => sentence!("Qt 5 compatible (Windows file mapping)"),
                WindowsKey::Native => {
                    sentence!("Qt 6 compatible (Windows file mapping, QNativeIpcKey)")
                }
            },
        );
        match qt.mapping_size {
            Some(size) => {
                inspection.row(
                    "segment",
                    sentence!(
                        "%{name} (%{bytes} bytes)",
                        name = &qt.names.mapping,
                        bytes = size
                    ),
                );
                // Windows frees a mapping with its last handle: one that exists is held open.
                inspection.detail("state", sentence!("live"));
            }
            None => inspection.row(
                "segment",
                sentence!(
                    "none: no %{name} (nothing is shared under this key)",
                    name = &qt.names.mapping
                ),
            ),
        }
        inspection.row(
            "semaphore",
            if qt.semaphore_exists {
                sentence!("%{name} (open in some process)", name = &qt.names.semaphore)
            } else {
                sentence!("%{name} (none)", name = &qt.names.semaphore)
            },
        );
        Ok(inspection)
    }

    /// A mapping has no generation, and a new image may go into the same one: the checksum of
    /// its bytes stands in.
    fn newest_generation(&self) -> Result<Option<u64>, ShareError> {
        Ok(self
            .segment()?
            .peek()
            .map(|bytes| u64::from(crc32fast::hash(&bytes))))
    }

    fn attach(&self) -> Result<AttachedReader, ShareError> {
        AttachedReader::new(self.segment()?)
    }
}
