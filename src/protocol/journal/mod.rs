//! The protocol journal: every shmimage process records each step it takes under a key, so that
//! `shmimage trace` and the window's Protocol panel can show what every process did, in order,
//! while it happens.
//!
//! One file per process, key and mode means no cross-process coordination at all: a step is
//! recorded with a 256-byte copy into memory, never a wait.

mod record;
mod timeline;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::protocol::step::Step;
pub use record::{Owner, Record, Role, State};
pub use timeline::{describe_death, stepping_holder, whose_leftover};

use crate::ipc::sys::Mapping;
use crate::safe_fs::{OpenFor, open_file, read_at};
use record::{FILE_LEN, HEADER_LEN, RECORD_LEN, SLOTS};

/// Journals of dead processes kept per key and mode, newest first, for the timeline.
pub const KEEP_DEAD: usize = 16;
/// Journals of dead processes kept in a directory in all, whatever their keys: a process leaves
/// one per key it used, and a script that tries hundreds of keys must not fill a RAM-backed
/// directory with them.
pub const KEEP_DEAD_IN_ALL: usize = 64;
/// How many files past that before pruning (see `prune`).
const PRUNE_SLACK: usize = 8;
const SUFFIX: &str = ".journal";
/// A journal file younger than this with no valid header may be one being made right now.
const MAKING_GRACE: Duration = Duration::from_secs(10);

/// What this process is, for every journal it opens (set once at start-up).
static ROLE: OnceLock<Role> = OnceLock::new();

pub fn set_role(role: Role) {
    let _ = ROLE.set(role);
}

fn role() -> Role {
    ROLE.get().copied().unwrap_or(Role::Other)
}

/// Microseconds since the Unix epoch: the one clock two processes share.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The journal files of one key and mode share this beginning.
fn prefix(native_key: &str, mode: &str) -> String {
    format!("{native_key}~{mode}~")
}

/// One process's journal for one key: the open file (its shared lock says "alive") and the
/// mapping the records are written through.
pub(crate) struct Journal {
    _file: File,
    mapping: Mapping,
    next_seq: u64,
}

impl Journal {
    fn create(dir: &Path, native_key: &str, mode: &str, owner: &Owner) -> io::Result<Self> {
        let name = format!(
            "{}{}~{}{SUFFIX}",
            prefix(native_key, mode),
            owner.pid,
            owner.opened_us
        );
        let path = dir.join(name);
        let file = open_file(&path, OpenFor::CreatingNew)?;
        file.set_len(FILE_LEN as u64)?;
        let mut mapping = Mapping::read_write(&file, FILE_LEN)?;
        mapping.copy_in(0, &owner.to_bytes());
        // Locked last: Windows' locks are mandatory, and would refuse the resize. Until then a
        // pruner sees a dead process's newest journal, which it keeps.
        file.lock_shared()?;
        Ok(Self {
            _file: file,
            mapping,
            next_seq: 1,
        })
    }

    /// Writes `record` into its slot of the ring (by its sequence number).
    fn write(&mut self, record: &Record) {
        let slot = (record.seq - 1) as usize % SLOTS;
        self.mapping
            .copy_in(HEADER_LEN + slot * RECORD_LEN, &record.to_bytes());
    }
}

/// A step being recorded: written when it starts, written again in place as it changes.
pub struct Entry {
    journal: Arc<Mutex<Journal>>,
    pub record: Record,
}

impl Entry {
    /// Records the step's current state (after changing `record`).
    pub fn save(&self) {
        if let Ok(mut journal) = self.journal.lock() {
            journal.write(&self.record);
        }
    }

    /// The step finished (or failed) `elapsed` after it started.
    pub fn finish(&mut self, state: State, elapsed: Duration, text: Option<String>) {
        self.record.state = state;
        self.record.duration_us = Some(elapsed.as_micros() as u64);
        if let Some(text) = text {
            self.record.text = text;
        }
        self.save();
    }
}

/// A process's handle on its journal for one key and mode; cheap to clone.
///
/// A process's journal under one key and mode: `<native key>~<mode>~<pid>~<opened>.journal` in
/// the segment directory, a fixed-size ring of checksummed records written through a shared
/// mapping. The writer keeps a shared lock on its file for as long as it lives, the same
/// liveness rule as segments: a journal whose lock can be taken belongs to a dead process, and
/// its last unfinished step is where that process died. Readers copy files out and check every
/// record, so a damaged or half-written journal is ignored, never trusted. The directory keeps
/// the journals of the newest dead processes per key (see [`KEEP_DEAD`]); `shmimage clean`
/// removes them all.
#[derive(Clone)]
pub struct Handle {
    journal: Arc<Mutex<Journal>>,
}

impl Handle {
    /// Starts recording `step` as `state` (running, or paused for step-through).
    pub fn begin(&self, step: Step, state: State, text: String) -> Entry {
        let seq = match self.journal.lock() {
            Ok(mut journal) => {
                let seq = journal.next_seq;
                journal.next_seq += 1;
                seq
            }
            Err(_) => 0,
        };
        let entry = Entry {
            journal: Arc::clone(&self.journal),
            record: Record {
                seq: seq.max(1),
                step,
                state,
                start_us: now_us(),
                duration_us: None,
                text,
            },
        };
        entry.save();
        entry
    }

    /// A step that is over as soon as it is noticed (a leftover found and removed).
    pub fn note(&self, step: Step, text: String) {
        let mut entry = self.begin(step, State::Running, text);
        entry.finish(State::Ok, Duration::ZERO, None);
    }
}

type Registry = Mutex<HashMap<(PathBuf, String, String), Handle>>;

/// This process's journals, one per directory, key and mode, opened on first use.
fn registry() -> &'static Registry {
    static JOURNALS: OnceLock<Registry> = OnceLock::new();
    JOURNALS.get_or_init(Registry::default)
}

/// This process's journal for `key` in `mode`; `None` (said once in the log) if the file
/// cannot be made, since the protocol must never fail because of its journal.
pub fn open(dir: &Path, key: &str, native_key: &str, mode: &str, qt: bool) -> Option<Handle> {
    let mut journals = registry().lock().ok()?;
    let slot = (dir.to_path_buf(), native_key.to_owned(), mode.to_owned());
    if let Some(handle) = journals.get(&slot) {
        return Some(handle.clone());
    }
    prune(dir, native_key, mode);
    // A process's first step under a key: the moment to bound what idle keys leave, too.
    crate::ipc::segment::tidy_idle_keys(dir);
    let owner = Owner {
        pid: std::process::id(),
        role: role(),
        qt,
        key: key.to_owned(),
        opened_us: now_us(),
    };
    match Journal::create(dir, native_key, mode, &owner) {
        Ok(journal) => {
            let handle = Handle {
                journal: Arc::new(Mutex::new(journal)),
            };
            journals.insert(slot, handle.clone());
            Some(handle)
        }
        Err(err) => {
            log::warn!(
                "not recording the protocol journal in {}: {err}",
                dir.display()
            );
            None
        }
    }
}

/// What one process recorded under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessJournal {
    pub owner: Owner,
    /// Still running (holds its journal's lock).
    pub alive: bool,
    /// In the order they were taken.
    pub records: Vec<Record>,
}

/// Every journal of `native_key` in `mode`, oldest process first. Files that cannot be read or
/// do not check out are passed over.
pub fn read(dir: &Path, native_key: &str, mode: &str) -> Vec<ProcessJournal> {
    let mut journals: Vec<ProcessJournal> = journal_files(dir, native_key, mode)
        .into_iter()
        .filter_map(|path| read_file(&path))
        .collect();
    journals.sort_by_key(|j| (j.owner.opened_us, j.owner.pid));
    journals
}

fn journal_files(dir: &Path, native_key: &str, mode: &str) -> Vec<PathBuf> {
    let prefix = prefix(native_key, mode);
    all_journal_files(dir)
        .into_iter()
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(&prefix))
        })
        .collect()
}

/// Every file in `dir` named as a journal is: `<native key>~<mode>~<pid>~<opened>.journal`.
fn all_journal_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_str().is_some_and(is_journal_name))
        .map(|entry| entry.path())
        .collect()
}

/// Whether `name` has exactly the shape of a journal's name: only such files are ever pruned.
fn is_journal_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(SUFFIX) else {
        return false;
    };
    let parts: Vec<&str> = stem.split('~').collect();
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    matches!(parts.as_slice(), [native_key, mode, pid, opened]
        if crate::ipc::segment::validate_native_key(native_key).is_ok()
            && !mode.is_empty()
            && mode.bytes().all(|b| b.is_ascii_alphanumeric())
            && digits(pid)
            && digits(opened))
}

/// A journal file and whether its writer lives; `None` for one whose header does not check out.
fn read_file(path: &Path) -> Option<ProcessJournal> {
    let file = open_file(path, OpenFor::ReadWrite).ok()?;
    let mut bytes = vec![0u8; FILE_LEN];
    let len = file.metadata().ok()?.len();
    if len != FILE_LEN as u64 {
        return None;
    }
    read_at(&file, 0, &mut bytes).ok()?;
    let owner = Owner::parse(&bytes[..HEADER_LEN])?;
    let mut records: Vec<Record> = bytes[HEADER_LEN..]
        .chunks_exact(RECORD_LEN)
        .filter_map(Record::parse)
        .collect();
    records.sort_by_key(|r| r.seq);
    let alive = is_held(&file);
    Some(ProcessJournal {
        owner,
        alive,
        records,
    })
}

/// Only the header of a journal file, and whether its writer lives: what pruning needs, without
/// reading the records.
fn read_owner(path: &Path) -> Option<(Owner, bool)> {
    let file = open_file(path, OpenFor::ReadWrite).ok()?;
    if file.metadata().ok()?.len() != FILE_LEN as u64 {
        return None;
    }
    let mut header = [0u8; HEADER_LEN];
    read_at(&file, 0, &mut header).ok()?;
    let owner = Owner::parse(&header)?;
    Some((owner, is_held(&file)))
}

/// Whether a live process holds the file's shared lock. A probe that fails outright counts as
/// held: a journal is only ever removed when its writer is known to be gone.
fn is_held(file: &File) -> bool {
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

/// Removes a dead process's journal file: under its exclusive lock, so never a live one's.
fn remove_if_dead(path: &Path) -> bool {
    let Ok(file) = open_file(path, OpenFor::ReadWrite) else {
        return false;
    };
    if file.try_lock().is_err() {
        return false;
    }
    // Closed first: Windows cannot delete a file that is open without delete sharing.
    let removed = fs::remove_file(path).is_ok();
    drop(file);
    removed
}

/// Keeps the journals of the [`KEEP_DEAD`] newest dead processes of a key and mode, and of the
/// [`KEEP_DEAD_IN_ALL`] newest in the whole directory; older ones, and dead ones that never got
/// a valid header, are removed. Only once there are [`PRUNE_SLACK`] more files than that: looking
/// at each one costs a few system calls, and a process's first step should not pay for sixteen
/// of them every time.
fn prune(dir: &Path, native_key: &str, mode: &str) {
    prune_beyond(journal_files(dir, native_key, mode), KEEP_DEAD);
    prune_beyond(all_journal_files(dir), KEEP_DEAD_IN_ALL);
}

/// Removes the dead processes' journals among `files` but the `keep` newest.
fn prune_beyond(files: Vec<PathBuf>, keep: usize) {
    if files.len() <= keep + PRUNE_SLACK {
        return;
    }
    let mut dead = Vec::new();
    for path in files {
        match read_owner(&path) {
            Some((owner, false)) => dead.push((owner.opened_us, path)),
            Some(_) => {}
            None if is_old(&path) => {
                remove_if_dead(&path);
            }
            None => {}
        }
    }
    dead.sort_by_key(|(opened, _)| std::cmp::Reverse(*opened));
    for (_, path) in dead.into_iter().skip(keep) {
        remove_if_dead(&path);
    }
}

fn is_old(path: &Path) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age > MAKING_GRACE)
}

/// Removes every dead process's journal in `dir`, for all keys (`shmimage clean`); returns how
/// many.
pub fn remove_dead(dir: &Path) -> usize {
    all_journal_files(dir)
        .into_iter()
        .filter(|path| remove_if_dead(path))
        .count()
}

#[cfg(test)]
mod tests;
