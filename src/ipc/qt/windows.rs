//! Qt's objects on Windows (`QT_IPC_SPEC_WINDOWS_MACOS.md`, section 1): a named file mapping
//! backed by the paging file, and a named semaphore, as `qsharedmemory_win.cpp` and
//! `qsystemsemaphore_win.cpp` use them, for Qt 5 and Qt 6 alike; only the names differ
//! ([`windows_names`](super::windows_names)).
//!
//! Two Windows rules shape it. The kernel frees a mapping when its last handle and view close, a
//! killed process's included, so nothing is ever left over and one name is one mapping: a new
//! image goes into the mapping that is there, if it fits. And a semaphore has no undo: a process
//! killed while holding it leaves the count at 0 for as long as any process has it open. So the
//! semaphore is opened only around each hold, never kept while idle, and a wait gives up.

use std::sync::Arc;
use std::time::Duration;

use super::{Replaceable, WindowsKey, WindowsNames, windows_names};
use crate::ipc::segment::interrupt::{exit_requested, holding_begins, holding_ends};
use crate::ipc::segment::{self, AccessMode, Patience, Segment, SegmentAccess, ShmError, Waiting};
use crate::ipc::sys::Mapping;
use crate::ipc::sys::named_object::{Section, Semaphore};

/// How long one wait on the semaphore lasts before the patience is asked again.
const WAIT_STEP: Duration = Duration::from_millis(100);

/// `QSharedMemory` on Windows.
pub struct QtWindowsSharedMemory {
    key: String,
    names: WindowsNames,
    attached: Option<Mapping>,
    lock_timeout: Duration,
    patience: Option<Arc<dyn Patience>>,
    replaceable: Replaceable,
}

/// What the inspector shows of Qt's objects on Windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtWindowsInspection {
    pub names: WindowsNames,
    /// The mapping's size in whole pages, if one exists.
    pub mapping_size: Option<usize>,
    pub semaphore_exists: bool,
}

/// Qt's semaphore opened and kept, as Qt's example keeps it from its first create or attach on
/// (`check` plays such a program with it).
pub struct KeptSemaphore(Semaphore);

impl KeptSemaphore {
    /// Qt's `lock()` and `unlock()`, but waiting at most `wait`: false if it was still taken.
    pub fn lock_within(&self, wait: Duration) -> Result<bool, ShmError> {
        let taken = self
            .0
            .acquire(wait)
            .map_err(|err| ShmError::io("taking Qt's semaphore", "Qt's semaphore", err))?;
        if taken {
            self.0
                .release()
                .map_err(|err| ShmError::io("releasing Qt's semaphore", "Qt's semaphore", err))?;
        }
        Ok(taken)
    }
}

/// The semaphore, taken; dropping it releases it and closes the handle.
struct SemaphoreGuard {
    semaphore: Semaphore,
}

impl Drop for SemaphoreGuard {
    fn drop(&mut self) {
        if let Err(err) = self.semaphore.release() {
            log::warn!("could not release Qt's semaphore: {err}");
        }
        holding_ends();
    }
}

impl QtWindowsSharedMemory {
    pub fn new(key: &str, kind: WindowsKey) -> Result<Self, ShmError> {
        Ok(Self {
            key: key.to_owned(),
            names: windows_names(key, kind)?,
            attached: None,
            lock_timeout: segment::DEFAULT_LOCK_TIMEOUT,
            patience: None,
            replaceable: Replaceable::NOTHING,
        })
    }

    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    /// What a mapping that is there already must start with for a new image to go into it.
    pub fn set_replaceable(&mut self, replaceable: Replaceable) {
        self.replaceable = replaceable;
    }

    pub fn inspect(&self) -> QtWindowsInspection {
        QtWindowsInspection {
            names: self.names.clone(),
            mapping_size: Section::open(&self.names.mapping, false)
                .ok()
                .map(|section| section.len()),
            semaphore_exists: Semaphore::exists(&self.names.semaphore),
        }
    }

    /// Reads the whole mapping without the lock, for Follow's look at whether it changed.
    pub fn peek(&self) -> Option<Vec<u8>> {
        let mapping = Mapping::Section(Section::open(&self.names.mapping, false).ok()?);
        let mut bytes = vec![0; mapping.len()];
        mapping.copy_out(0, &mut bytes).then_some(bytes)
    }

    /// Qt's own `create(size)`, call for call: `CreateFileMappingW`, which fails with "already
    /// exists" while any process holds a mapping of that name. A mapping it does create is
    /// closed at once, which frees it, since nobody else has it.
    pub fn create_as_qt_does(&self, size: usize) -> Result<(), ShmError> {
        let (_section, existed) = Section::create(&self.names.mapping, size)
            .map_err(|err| self.error("creating", err))?;
        if existed {
            return Err(ShmError::AlreadyExists {
                key: self.key.clone(),
            });
        }
        Ok(())
    }

    /// Opens Qt's semaphore and keeps it open, as every Qt program that has loaded once does.
    pub fn keep_semaphore_open(&self) -> Result<KeptSemaphore, ShmError> {
        Semaphore::open(&self.names.semaphore)
            .map(KeptSemaphore)
            .map_err(|err| self.error("opening Qt's semaphore", err))
    }

    /// `acquire()` with a timeout: Qt waits forever, which a killed holder makes a hang.
    fn acquire(&self) -> Result<SemaphoreGuard, ShmError> {
        let semaphore = Semaphore::open(&self.names.semaphore)
            .map_err(|err| self.error("opening Qt's semaphore", err))?;
        let mut waiting = Waiting::new(self.lock_timeout, self.patience.as_ref());
        holding_begins();
        loop {
            let outcome = match semaphore.acquire(WAIT_STEP) {
                Ok(true) => return Ok(SemaphoreGuard { semaphore }),
                Ok(false) => match waiting.go_on(|| None) {
                    Ok(true) if !exit_requested() => continue,
                    Ok(_) => Err(self.stuck(waiting.waited())),
                    Err(cancelled) => Err(cancelled),
                },
                Err(err) => Err(self.error("taking Qt's semaphore", err)),
            };
            holding_ends();
            return outcome;
        }
    }

    /// The sentence for a semaphore that stays taken: Windows cannot say who holds it.
    fn stuck(&self, waited: Duration) -> ShmError {
        ShmError::LockFailed {
            path: self.names.semaphore.clone().into(),
            source: std::io::Error::other(format!(
                "it has been taken for {:.1} s; a Windows semaphore has no undo, so a program \
                 killed while holding it leaves it taken for as long as any program has it open \
                 (Qt's example then hangs): close every program that uses key {:?} (Qt's \
                 example, other windows), then try again",
                waited.as_secs_f64(),
                self.key
            )),
        }
    }

    fn error(&self, action: &'static str, err: std::io::Error) -> ShmError {
        if err.kind() == std::io::ErrorKind::NotFound {
            return ShmError::NotFound {
                key: self.key.clone(),
            };
        }
        ShmError::io(
            action,
            format!("the named object {}", self.names.mapping),
            err,
        )
    }

    /// A mapping already there (another writer's, or one a reader still has open) takes the new
    /// image if it is big enough and holds one of Qt's images (or nothing yet).
    fn reuse(&self, section: Section, size: usize) -> Result<Mapping, ShmError> {
        let mapping = Mapping::Section(section);
        if mapping.len() < size {
            return Err(ShmError::InvalidSize {
                size: size as u64,
                reason: format!(
                    "a program still has the older, smaller image under key {:?} open ({} bytes), and Windows cannot grow or remove a mapping while it is open: close the programs that share or show this key (Qt's example, other windows), then load again",
                    self.key,
                    mapping.len()
                ),
            });
        }
        let mut start = vec![0; self.replaceable.start_len];
        mapping.copy_out(0, &mut start);
        if !self.replaceable.accepts(&start) && start.iter().any(|&byte| byte != 0) {
            return Err(ShmError::KeyError {
                key: self.key.clone(),
                reason: format!(
                    "another program's {} holds something that is not one of Qt's images; it was left alone, so use another key",
                    self.names.mapping
                ),
            });
        }
        Ok(mapping)
    }
}

impl Segment for QtWindowsSharedMemory {
    fn native_key(&self) -> &str {
        &self.names.mapping
    }

    fn path(&self) -> Option<&std::path::Path> {
        None
    }

    fn create_replacing_locked(&mut self, size: usize) -> Result<SegmentAccess<'_>, ShmError> {
        segment::require_bytes(size)?;
        self.detach();
        let guard = self.acquire()?;
        let (section, existed) = Section::create(&self.names.mapping, size)
            .map_err(|err| self.error("creating", err))?;
        let mapping = if existed {
            self.reuse(section, size)?
        } else {
            Mapping::Section(section)
        };
        let mapping = self.attached.insert(mapping);
        Ok(SegmentAccess::new(mapping, None, 0, guard))
    }

    fn attach(&mut self, mode: AccessMode) -> Result<(), ShmError> {
        if self.attached.is_none() {
            let writable = mode == AccessMode::ReadWrite;
            let section = Section::open(&self.names.mapping, writable)
                .map_err(|err| self.error("opening", err))?;
            self.attached = Some(Mapping::Section(section));
        }
        Ok(())
    }

    fn lock(&mut self) -> Result<SegmentAccess<'_>, ShmError> {
        if self.attached.is_none() {
            return Err(ShmError::NotAttached);
        }
        let guard = self.acquire()?;
        let Some(mapping) = self.attached.as_mut() else {
            return Err(ShmError::NotAttached);
        };
        Ok(SegmentAccess::new(mapping, None, 0, guard))
    }

    fn detach(&mut self) -> bool {
        self.attached.take().is_some()
    }

    fn size(&self) -> usize {
        self.attached.as_ref().map_or(0, Mapping::len)
    }

    fn set_patience(&mut self, patience: Option<Arc<dyn Patience>>) {
        self.patience = patience;
    }

    fn describe_segment(&self) -> String {
        format!("named file mapping {}", self.names.mapping)
    }

    fn describe_lock(&self) -> String {
        format!("named semaphore {}", self.names.semaphore)
    }
}
