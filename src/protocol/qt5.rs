//! Qt 5's protocol (and Qt 6's with a `QString` key): the System V segment and semaphore named
//! as Qt names them (`crate::ipc::qt::sysv`), holding Qt's `QDataStream` PNG.

use image::RgbaImage;

use super::{
    AttachedReader, Endpoint, Fetched, Inspection, Options, Protocol, Publication, Recorder,
    ShareError,
};
use crate::codec::Encoding;
use crate::ipc::qt::sysv::QtSharedMemory;
use crate::sentence::sentence;

pub(super) struct Qt5Protocol {
    key: String,
    options: Options,
    recorder: Recorder,
}

impl Qt5Protocol {
    pub(super) fn new(endpoint: &Endpoint) -> Self {
        Self {
            key: endpoint.key.clone(),
            options: endpoint.options.clone(),
            recorder: Recorder::new(endpoint),
        }
    }

    /// Whether Qt's own `create(size)` would succeed now (see `QtSharedMemory::create_as_qt_does`).
    pub(super) fn create_as_qt_does(&self, size: usize) -> Result<(), ShareError> {
        Ok(self.segment()?.create_as_qt_does(size)?)
    }

    /// Whether either of Qt's key files exists.
    pub(super) fn objects_left(&self) -> bool {
        self.segment().is_ok_and(|shm| {
            let qt = shm.inspect();
            qt.shm_key_file.exists() || qt.sem_key_file.exists()
        })
    }

    fn segment(&self) -> Result<Box<QtSharedMemory>, ShareError> {
        let mut shm = QtSharedMemory::new(&self.key)?;
        shm.set_lock_timeout(self.options.lock_timeout);
        shm.set_replaceable(super::qt::QT_IMAGE);
        Ok(Box::new(shm))
    }
}

impl Protocol for Qt5Protocol {
    fn publish(&self, image: &RgbaImage, _encoding: Encoding) -> Result<Publication, ShareError> {
        super::qt::publish(&self.recorder, self.segment()?, image)
    }

    fn fetch(&self) -> Result<Fetched, ShareError> {
        super::qt::fetch(&self.recorder, self.segment()?, &self.options.faults)
    }

    /// What `ipcs` would show, and Qt's key files.
    fn inspect(&self) -> Result<Inspection, ShareError> {
        let qt = self.segment()?.inspect();
        let mut inspection = Inspection::new(&self.key);
        let key_file = |path: &std::path::Path, ipc_key: Option<i32>| match ipc_key {
            Some(ipc_key) => sentence!(
                "%{path} (IPC key %{key})",
                path = path.display().to_string(),
                key = format!("0x{ipc_key:08x}")
            ),
            None => sentence!("%{path} (missing)", path = path.display().to_string()),
        };
        inspection.row("mode", sentence!("Qt-compatible (System V)"));
        inspection.row("shm key", key_file(&qt.shm_key_file, qt.shm_ipc_key));
        inspection.row("sem key", key_file(&qt.sem_key_file, qt.sem_ipc_key));
        inspection.row(
            "semaphore",
            qt.semaphore_id
                .map_or(sentence!("none"), |id| sentence!("id %{id}", id = id)),
        );
        match (qt.segment_id, &qt.segment) {
            (Some(id), Some(segment)) => {
                let state = match (segment.attached, segment.creator_alive) {
                    (0, false) => {
                        sentence!("leftover of a dead process (the next put or get removes it)")
                    }
                    (0, true) => sentence!("nobody attached"),
                    _ => sentence!("live"),
                };
                inspection.row(
                    "segment",
                    sentence!("id %{id}, %{bytes} bytes", id = id, bytes = segment.size),
                );
                inspection.detail("state", state);
                inspection.detail(
                    "attached",
                    sentence!("%{count} process(es)", count = segment.attached),
                );
                inspection.detail(
                    "creator",
                    if segment.creator_alive {
                        sentence!("pid %{pid} (running)", pid = segment.creator_pid)
                    } else {
                        sentence!("pid %{pid} (exited)", pid = segment.creator_pid)
                    },
                );
            }
            _ => inspection.row("segment", super::nothing_shared()),
        }
        Ok(inspection)
    }

    /// The System V id: a new one for every segment created.
    fn newest_generation(&self) -> Result<Option<u64>, ShareError> {
        Ok(self.segment()?.inspect().segment_id.map(|id| id as u64))
    }

    fn attach(&self) -> Result<AttachedReader, ShareError> {
        AttachedReader::new(self.segment()?)
    }
}
