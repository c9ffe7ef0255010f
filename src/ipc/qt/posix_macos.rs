//! Qt 6's objects (macOS): what Qt 6.6+'s `QSharedMemory` does with a `QNativeIpcKey`,
//! `shm_open(key)` and `sem_open(key)` under the key as it is (`QT_IPC_SPEC_WINDOWS_MACOS.md`,
//! 3.2). Built from Qt's and XNU's sources; it has not run on a Mac yet.
//!
//! XNU differs from Linux in ways that shape this file:
//! - no files: an object is known only by opening it, and its `fstat` gives owner, mode and
//!   size but no inode, so a segment is told apart from a later one by a fingerprint of its
//!   size and first page ([`fingerprint`]);
//! - one `ftruncate` per object for its whole life, its size rounded up to a page; so, as on
//!   Linux, every publish makes a new object (the old name is unlinked; whoever has it keeps it),
//!   and the writer removes its own when it stops sharing;
//! - an object cannot be `read`, only mapped, so every copy goes through the mapping;
//! - a named semaphore's owner cannot be read: one that another user made and keeps taken can
//!   only make us wait until the lock timeout, never block us for good.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use super::{Qt6Inspection, Replaceable, macos_posix_name};
use crate::ipc::segment::interrupt::holding_ends;
use crate::ipc::segment::{self, AccessMode, Patience, Segment, SegmentAccess, ShmError};
use crate::ipc::sys::Mapping;
use crate::ipc::sys::posix_macos::{NamedSemaphore, shm_open, shm_unlink};

/// `QSharedMemory(QNativeIpcKey(key))` on macOS. Qt's rules are kept as on Linux (see
/// `crate::ipc::qt::posix`), with the same two repairs: a new object per publish, removed by
/// its writer, and a lock wait that ends.
pub struct Qt6SharedMemory {
    key: String,
    /// The name both objects have, which is the key (at most 31 bytes).
    name: String,
    lock_timeout: Duration,
    replaceable: Replaceable,
    patience: Option<Arc<dyn Patience>>,
    semaphore: Option<(NamedSemaphore, bool)>,
    attached: Option<Qt6Attachment>,
}

struct Qt6Attachment {
    mapping: Mapping,
    fingerprint: u64,
    /// Made by us, so removed by us when we stop sharing.
    created: bool,
}

struct Held<'a>(&'a NamedSemaphore);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.0.post() {
            log::warn!("could not release the Qt 6 semaphore: {err}");
        }
        holding_ends();
    }
}

impl Qt6SharedMemory {
    pub fn new(key: &str) -> Result<Self, ShmError> {
        Ok(Self {
            key: key.to_owned(),
            name: macos_posix_name(key)?,
            lock_timeout: segment::DEFAULT_LOCK_TIMEOUT,
            replaceable: Replaceable::NOTHING,
            patience: None,
            semaphore: None,
            attached: None,
        })
    }

    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    pub fn set_replaceable(&mut self, replaceable: Replaceable) {
        self.replaceable = replaceable;
    }

    /// What is there under the key now, opening the objects read-only to look.
    pub fn inspect(&self) -> Qt6Inspection {
        let opened = open_ours(&self.name, AccessMode::ReadOnly).ok().flatten();
        Qt6Inspection {
            segment: describe_segment(&self.name),
            segment_size: opened.as_ref().map(|(_, len)| *len as u64),
            segment_id: opened.map(|(mapping, _)| fingerprint(&mapping)),
            semaphore: describe_lock(&self.name),
            semaphore_exists: NamedSemaphore::exists(&self.name),
        }
    }
}

/// Takes the semaphore (opening or creating it first), waiting at most `timeout`. A free
/// function, so that the guard borrows only the semaphore while the mapping is handed out.
fn acquire<'a>(
    slot: &'a mut Option<(NamedSemaphore, bool)>,
    name: &str,
    timeout: Duration,
    patience: Option<&Arc<dyn Patience>>,
) -> Result<Held<'a>, ShmError> {
    if slot.is_none() {
        let opened = NamedSemaphore::open_or_create(name).map_err(|err| lock_error(name, err))?;
        *slot = Some(opened);
    }
    let Some((semaphore, _)) = slot.as_ref() else {
        return Err(ShmError::NotAttached);
    };
    super::take_retrying(
        || semaphore.try_wait(),
        timeout,
        patience,
        |err| lock_error(name, err),
        |waited| taken_too_long(name, waited),
    )?;
    Ok(Held(semaphore))
}

fn describe_segment(name: &str) -> String {
    format!("POSIX shared memory shm_open({name:?})")
}

fn describe_lock(name: &str) -> String {
    format!("POSIX semaphore sem_open({name:?})")
}

fn lock_error(name: &str, err: io::Error) -> ShmError {
    ShmError::LockFailed {
        path: describe_lock(name).into(),
        source: err,
    }
}

/// Qt 6's semaphore has no undo and records no holder, and macOS lists no named semaphores:
/// the sentence says what can have happened, and what clears it.
fn taken_too_long(name: &str, waited: Duration) -> ShmError {
    ShmError::LockFailed {
        path: describe_lock(name).into(),
        source: io::Error::other(format!(
            "it has been taken for {waited:?}; a program is busy with it, or died while holding \
             it (Qt 6's semaphore has no undo): quit the programs that use the key {name:?} and \
             share the image again"
        )),
    }
}

fn segment_error(name: &str, action: &'static str, err: io::Error) -> ShmError {
    ShmError::io(action, describe_segment(name), err)
}

/// Under the semaphore: replaces what is under the name with a new object of `size` bytes,
/// sized by its one `ftruncate`, and maps it. A live object is unlinked first, but only one of
/// this user's that holds an image as Qt writes one: as root, `shm_unlink` would remove anyone's.
fn create_object(name: &str, replaceable: Replaceable, size: usize) -> Result<Mapping, ShmError> {
    if let Some((live, _)) = open_ours(name, AccessMode::ReadOnly)? {
        let mut start = vec![0u8; replaceable.start_len];
        if !(live.copy_out(0, &mut start) && replaceable.accepts(&start)) {
            return Err(ShmError::PermissionDenied {
                path: describe_segment(name).into(),
                detail: "it does not hold an image as Qt writes one (its marker and a PNG), so it \
                         may be another program's and was left alone; use another key"
                    .to_owned(),
            });
        }
        match shm_unlink(name) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                return Err(segment_error(name, "replacing", err));
            }
            _ => {}
        }
    }
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
    let file = shm_open(name, flags).map_err(|err| segment_error(name, "creating", err))?;
    let mapped = file
        .set_len(size as u64)
        .and_then(|()| file.metadata())
        .and_then(|meta| map(&file, meta.len() as usize, AccessMode::ReadWrite));
    mapped.map_err(|err| {
        let _ = shm_unlink(name);
        segment_error(name, "sizing", err)
    })
}

/// Opens the object `name` and maps all of it, if it exists and is this user's. `None` if it
/// does not exist; an error if it is another user's or larger than any image can need.
fn open_ours(name: &str, mode: AccessMode) -> Result<Option<(Mapping, usize)>, ShmError> {
    let where_ = || format!("shm_open({name:?})");
    let flags = match mode {
        AccessMode::ReadOnly => libc::O_RDONLY,
        AccessMode::ReadWrite => libc::O_RDWR,
    };
    let file = match shm_open(name, flags) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(ShmError::io("opening", where_(), err)),
    };
    let meta = file
        .metadata()
        .map_err(|err| ShmError::io("checking", where_(), err))?;
    let me = crate::ipc::sys::effective_uid();
    if meta.uid() != me {
        return Err(ShmError::PermissionDenied {
            path: where_().into(),
            detail: format!(
                "it belongs to uid {}, not to you (uid {me}), so it is not trusted and was left alone",
                meta.uid()
            ),
        });
    }
    segment::check_segment_size(meta.len())?;
    // An object that was opened but never sized holds nothing yet.
    let len = meta.len() as usize;
    if len == 0 {
        return Ok(None);
    }
    let mapping = map(&file, len, mode).map_err(|err| ShmError::io("mapping", where_(), err))?;
    Ok(Some((mapping, len)))
}

fn map(file: &File, len: usize, mode: AccessMode) -> io::Result<Mapping> {
    match mode {
        AccessMode::ReadOnly => Mapping::read_only(file, len),
        AccessMode::ReadWrite => Mapping::read_write(file, len),
    }
}

/// What tells one object from a later one under the same name, as XNU gives no inode: its
/// size and a crc of its first page. Two publishes of the same image look alike, which at
/// worst makes a writer that stops sharing remove an identical image published after it.
fn fingerprint(mapping: &Mapping) -> u64 {
    let mut first_page = vec![0u8; mapping.len().min(4096)];
    let copied = mapping.copy_out_up_to(0, &mut first_page);
    (mapping.len() as u64) << 32 | u64::from(crc32fast::hash(&first_page[..copied]))
}

impl Segment for Qt6SharedMemory {
    fn native_key(&self) -> &str {
        &self.name
    }

    fn path(&self) -> Option<&std::path::Path> {
        None
    }

    fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError> {
        segment::require_bytes(size)?;
        self.detach();
        let held = acquire(
            &mut self.semaphore,
            &self.name,
            self.lock_timeout,
            self.patience.as_ref(),
        )?;
        let mapping = create_object(&self.name, self.replaceable, size)?;
        let attachment = self.attached.insert(Qt6Attachment {
            fingerprint: fingerprint(&mapping),
            mapping,
            created: true,
        });
        Ok(SegmentAccess::new(
            &mut attachment.mapping,
            None,
            attachment.fingerprint,
            held,
        ))
    }

    fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError> {
        if self.attached.is_some() {
            return Ok(());
        }
        let _held = acquire(
            &mut self.semaphore,
            &self.name,
            self.lock_timeout,
            self.patience.as_ref(),
        )?;
        let Some((mapping, _)) = open_ours(&self.name, mode)? else {
            return Err(ShmError::NotFound {
                key: self.key.clone(),
            });
        };
        self.attached = Some(Qt6Attachment {
            fingerprint: fingerprint(&mapping),
            mapping,
            created: false,
        });
        Ok(())
    }

    fn lock(&mut self) -> Result<SegmentAccess<'_>, ShmError> {
        if self.attached.is_none() {
            return Err(ShmError::NotAttached);
        }
        let held = acquire(
            &mut self.semaphore,
            &self.name,
            self.lock_timeout,
            self.patience.as_ref(),
        )?;
        let Some(attachment) = self.attached.as_mut() else {
            return Err(ShmError::NotAttached);
        };
        Ok(SegmentAccess::new(
            &mut attachment.mapping,
            None,
            attachment.fingerprint,
            held,
        ))
    }

    /// Unmaps; an object we created is removed too if the name still means it, checked and
    /// removed under the semaphore so that a newer publisher's is never lost.
    fn detach(&mut self) -> bool {
        let Some(attachment) = self.attached.take() else {
            return false;
        };
        if attachment.created {
            let name = &self.name;
            match acquire(
                &mut self.semaphore,
                name,
                self.lock_timeout,
                self.patience.as_ref(),
            ) {
                Ok(_held) => {
                    let still_ours = open_ours(name, AccessMode::ReadOnly)
                        .ok()
                        .flatten()
                        .is_some_and(|(now, _)| fingerprint(&now) == attachment.fingerprint);
                    if still_ours {
                        let _ = shm_unlink(name);
                    }
                }
                Err(err) => log::warn!("left shm_open({name:?}) in place: {err}"),
            }
        }
        true
    }

    fn size(&self) -> usize {
        self.attached.as_ref().map_or(0, |a| a.mapping.len())
    }

    fn set_patience(&mut self, patience: Option<Arc<dyn Patience>>) {
        self.patience = patience;
    }

    fn describe_segment(&self) -> String {
        describe_segment(&self.name)
    }

    fn describe_lock(&self) -> String {
        describe_lock(&self.name)
    }
}

impl Drop for Qt6SharedMemory {
    fn drop(&mut self) {
        self.detach();
        // Like Qt: whoever created the semaphore removes its name when done.
        if let Some((semaphore, true)) = self.semaphore.take() {
            drop(semaphore);
            let _ = NamedSemaphore::unlink(&self.name);
        }
    }
}
