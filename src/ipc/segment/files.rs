//! The segment files of a key on disk: their names, their liveness (a shared file lock held by
//! every attached process), creating and attaching them, and reclaiming what dead processes
//! left. Everything here that changes the directory runs under the key's lock.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::key::is_derived_native_key;
use super::lock::{self, KeyLock};
use super::{
    AccessMode, Attachment, DEFAULT_LOCK_TIMEOUT, Reclaimed, SegmentDir, SegmentFile, ShmError,
    check_segment_size, validate_native_key,
};
use crate::ipc::sys::Mapping;
use crate::platform::{self, Os};
use crate::safe_fs::{Entry, OpenFor, entry_at, open_file};

/// The longest file name a segment can have: the longest raw native key, and the largest
/// generation.
pub const LONGEST_FILE_NAME: usize =
    super::key::MAX_NATIVE_KEY_LEN + ".g18446744073709551615.seg".len();

pub(super) fn segment_path(dir: &Path, native_key: &str, generation: u64) -> PathBuf {
    dir.join(format!("{native_key}.g{generation}.seg"))
}

/// Parses `<native>.g<generation>.seg`, returning the native key and generation.
pub(super) fn parse_segment_name(name: &str) -> Option<(&str, u64)> {
    let stem = name.strip_suffix(".seg")?;
    let (native_key, generation) = stem.rsplit_once(".g")?;
    let generation = generation.parse().ok().filter(|g| *g > 0)?;
    validate_native_key(native_key).ok()?;
    Some((native_key, generation))
}

/// Lists the segment files of one key with their liveness. Anything at a segment name that is
/// not a regular file (a planted symlink, a directory) is an error rather than skipped, so the
/// user learns about it.
pub(super) fn list_segment_files(
    dir: &Path,
    native_key: &str,
) -> Result<Vec<SegmentFile>, ShmError> {
    let entries =
        fs::read_dir(dir).map_err(|err| ShmError::io("listing the segment directory", dir, err))?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((owner, generation)) = name.to_str().and_then(parse_segment_name) else {
            continue;
        };
        if owner != native_key {
            continue;
        }
        let path = entry.path();
        if let Entry::Other(what) =
            entry_at(&path).map_err(|err| ShmError::io("checking", &path, err))?
        {
            return Err(ShmError::Tampered {
                path,
                detail: format!("{what} sits where a segment file should be"),
            });
        }
        let file = match open_file(&path, OpenFor::ReadWrite) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(ShmError::io("opening a segment file", &path, err)),
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let live = is_held(&file, &path)?;
        files.push(SegmentFile {
            path,
            generation,
            size,
            live,
        });
    }
    Ok(files)
}

/// True while some process holds the file's shared "attached" lock. The probe needs a file
/// opened for writing: where `flock` is emulated with `fcntl` locks (NFS), an exclusive probe on
/// a read-only file fails, and such a failure is reported, never taken for "someone holds it"
/// (which would keep every leftover for ever).
fn is_held(file: &File, path: &Path) -> Result<bool, ShmError> {
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(false)
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(err)) => Err(lock::locks_unsupported(path, err)),
    }
}

/// Removes the leftovers of dead processes; returns what is still there, and what was removed. A leftover that
/// cannot be removed (gone already, or held in place by the OS) is logged and passed over: it is
/// not live, so it must not stop anyone from creating or attaching.
pub(super) fn reclaim_stale(
    dir: &Path,
    native_key: &str,
) -> Result<(Vec<SegmentFile>, Vec<SegmentFile>), ShmError> {
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for file in list_segment_files(dir, native_key)? {
        if file.live {
            kept.push(file);
            continue;
        }
        match remove_if_stale(&file.path) {
            Ok(true) => removed.push(file),
            Ok(false) => kept.push(file),
            Err(err) => {
                log::warn!("passing over a leftover that cannot be removed: {err}");
                kept.push(file);
            }
        }
    }
    Ok((kept, removed))
}

/// Removes `path` if no process holds it. Must be called with the key's lock held, so nobody
/// can be between opening the file and locking it. A file already gone counts as removed.
pub(super) fn remove_if_stale(path: &Path) -> Result<bool, ShmError> {
    let file = match open_file(path, OpenFor::ReadWrite) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(err) => return Err(ShmError::io("opening a segment file", path, err)),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
        Err(std::fs::TryLockError::Error(err)) => return Err(lock::locks_unsupported(path, err)),
    }
    // Removed while we hold the exclusive lock, so nobody can attach in between.
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(true),
        // A dying process's mapping outlives its lock on Windows: the next look removes it.
        Err(err) if platform::delete_refused_while_in_use(Os::current(), err.raw_os_error()) => {
            Ok(false)
        }
        Err(err) => Err(ShmError::io("removing a leftover segment", path, err)),
    }
}

pub(super) fn new_segment_file(
    path: &Path,
    dir: &Path,
    size: usize,
    generation: u64,
    pause_after_create: Option<Duration>,
) -> Result<Attachment, ShmError> {
    let file =
        open_file(path, OpenFor::CreatingNew).map_err(|err| ShmError::io("creating", path, err))?;
    let cleanup = |err: ShmError| {
        let _ = fs::remove_file(path);
        err
    };
    let mark_live = |file: &File| {
        // Held from now until detach: this is what marks the file as live.
        file.try_lock_shared().map_err(|err| ShmError::LockFailed {
            path: path.to_path_buf(),
            source: err.into(),
        })
    };
    // Unix: live from the moment it is visible, so that nothing that checks liveness (even
    // without the key's lock) can take it for a leftover during the reservation below, which
    // takes hundreds of milliseconds for a large image.
    #[cfg(unix)]
    mark_live(&file).map_err(cleanup)?;
    if let Some(pause) = pause_after_create {
        eprintln!("paused after create");
        std::thread::sleep(pause);
    }
    // Reserve the pages now: on a full /dev/shm this fails here, instead of SIGBUS on first write.
    reserve(&file, path, dir, size).map_err(cleanup)?;
    // Windows: only now, because its byte-range locks are mandatory: a shared lock forbids even
    // its own handle to change the file's length. Windows cannot delete a file that is open, so
    // nobody can remove it meanwhile either.
    #[cfg(windows)]
    mark_live(&file).map_err(cleanup)?;
    let mapping = Mapping::read_write(&file, size)
        .map_err(|err| cleanup(ShmError::io("mapping", path, err)))?;
    Ok(Attachment {
        file,
        mapping,
        path: path.to_path_buf(),
        generation,
    })
}

/// Reserves `size` bytes for the new segment file at `path` in `dir`; a full directory is
/// `OutOfResources`, with the sentence that says what to do.
pub(crate) fn reserve(file: &File, path: &Path, dir: &Path, size: usize) -> Result<(), ShmError> {
    reserve_space(file, size as u64).map_err(|err| match err.raw_os_error() {
        Some(code) if is_out_of_space(code) => ShmError::OutOfResources {
            needed: size as u64,
            dir: dir.to_path_buf(),
            source: err,
            available: fs4::available_space(dir).ok(),
        },
        _ => ShmError::io("reserving space for", path, err),
    })
}

/// Gives the new file its full length with every page backed.
#[cfg(unix)]
fn reserve_space(file: &fs::File, len: u64) -> io::Result<()> {
    fs4::FileExt::allocate(file, len)
}

/// Gives the new file its full length. NTFS backs a non-sparse file's length with clusters at
/// once (fs4's `allocate` uses FileAllocationInfo, which Wine does not implement).
#[cfg(windows)]
fn reserve_space(file: &fs::File, len: u64) -> io::Result<()> {
    file.set_len(len)
}

fn is_out_of_space(code: i32) -> bool {
    #[cfg(unix)]
    return code == libc::ENOSPC || code == libc::EDQUOT || code == libc::EFBIG;
    #[cfg(windows)]
    return code == 112 /* ERROR_DISK_FULL */ || code == 39 /* ERROR_HANDLE_DISK_FULL */;
}

pub(super) fn attach_file(segment: &SegmentFile, mode: AccessMode) -> Result<Attachment, ShmError> {
    let path = &segment.path;
    let how = match mode {
        AccessMode::ReadOnly => OpenFor::Reading,
        AccessMode::ReadWrite => OpenFor::ReadWrite,
    };
    let file = open_file(path, how).map_err(|err| ShmError::io("opening", path, err))?;
    file.try_lock_shared().map_err(|err| ShmError::LockFailed {
        path: path.clone(),
        source: err.into(),
    })?;
    let size = file
        .metadata()
        .map_err(|err| ShmError::io("checking", path, err))?
        .len();
    check_segment_size(size)?;
    let len = usize::try_from(size)
        .ok()
        .filter(|len| *len > 0)
        .ok_or_else(|| ShmError::Tampered {
            path: path.clone(),
            detail: format!("its size of {size} bytes cannot be mapped"),
        })?;
    let mapping = match mode {
        AccessMode::ReadOnly => Mapping::read_only(&file, len),
        AccessMode::ReadWrite => Mapping::read_write(&file, len),
    }
    .map_err(|err| ShmError::io("mapping", path, err))?;
    Ok(Attachment {
        file,
        mapping,
        path: path.clone(),
        generation: segment.generation,
    })
}

/// The memory-speed floor for moving `bytes` through a segment: one copy into a freshly created
/// mapping of that size, one copy out into a fresh buffer. Nothing else (no lock, no header,
/// no checksum, no space reservation), so it is what any implementation must pay at least.
/// Returns the two copy times.
pub fn measure_copy_floor(
    dir: &SegmentDir,
    bytes: &[u8],
) -> Result<(Duration, Duration), ShmError> {
    let path = dir.path().join(format!("floor-{}.tmp", std::process::id()));
    let _ = fs::remove_file(&path);
    let result = (|| {
        let started = std::time::Instant::now();
        let file = open_file(&path, OpenFor::CreatingNew)
            .map_err(|err| ShmError::io("creating", &path, err))?;
        file.set_len(bytes.len() as u64)
            .map_err(|err| ShmError::io("sizing", &path, err))?;
        let mut mapping = Mapping::read_write(&file, bytes.len())
            .map_err(|err| ShmError::io("mapping", &path, err))?;
        mapping.copy_in(0, bytes);
        let copy_in = started.elapsed();
        let started = std::time::Instant::now();
        let mut out = vec![0u8; bytes.len()];
        mapping.copy_out(0, &mut out);
        let copy_out = started.elapsed();
        std::hint::black_box(&out);
        Ok((copy_in, copy_out))
    })();
    let _ = fs::remove_file(&path);
    result
}

/// Idle keys (no segment) whose lock and state files a directory keeps before the next process to
/// open a key sweeps them: every key ever tried leaves two small files, and a script that tries
/// hundreds must not fill a RAM-backed directory.
#[cfg(unix)]
const KEEP_IDLE_KEYS: usize = 64;
#[cfg(unix)]
const IDLE_SLACK: usize = 16;

/// Removes idle keys' lock and state files once `dir` holds more than [`KEEP_IDLE_KEYS`] (plus
/// some slack, so that most calls only list the directory). Never waits: a key whose lock is
/// held, even by this process, is passed over. Only keys of [`native_key_for`]'s shape.
///
/// [`native_key_for`]: super::native_key_for
#[cfg(unix)]
pub(crate) fn tidy_idle_keys(dir: &Path) {
    let names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    let with_segments: std::collections::HashSet<&str> = names
        .iter()
        .filter_map(|name| parse_segment_name(name).map(|(native_key, _)| native_key))
        .collect();
    let idle: Vec<&str> = names
        .iter()
        .filter_map(|name| name.strip_suffix(".lock"))
        .filter(|native_key| is_derived_native_key(native_key))
        .filter(|native_key| !with_segments.contains(native_key))
        .collect();
    if idle.len() <= KEEP_IDLE_KEYS + IDLE_SLACK {
        return;
    }
    for native_key in idle {
        let Ok(key_lock) = KeyLock::open(dir, native_key) else {
            continue;
        };
        let Ok(guard) = key_lock.acquire(Duration::ZERO) else {
            continue;
        };
        if list_segment_files(dir, native_key).is_ok_and(|files| files.is_empty()) {
            let _ = KeyLock::remove_files(guard, &key_lock);
        }
    }
}

/// Windows never removes lock files (see `lock.rs`).
#[cfg(windows)]
pub(crate) fn tidy_idle_keys(_dir: &Path) {}

/// Removes every leftover of dead processes in `dir`, for all keys (`shmimage clean`), and, on
/// Unix, the lock and state files of keys that have no segment left (see `lock.rs` for why that
/// is safe). Only files named after a key by [`native_key_for`](super::native_key_for) are
/// looked at; a raw native key's leftovers go when its next writer reclaims them.
pub fn clean(dir: &SegmentDir) -> Result<Vec<Reclaimed>, ShmError> {
    let entries = fs::read_dir(dir.path())
        .map_err(|err| ShmError::io("listing the segment directory", dir.path(), err))?;
    let mut native_keys: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            let native_key = match parse_segment_name(name) {
                Some((native_key, _)) => native_key,
                None => name
                    .strip_suffix(".lock")
                    .or_else(|| name.strip_suffix(".state"))?,
            };
            // Only names a key of ours gives: SHMIMAGE_DIR may name a folder holding Cargo.lock.
            is_derived_native_key(native_key).then(|| native_key.to_owned())
        })
        .collect();
    native_keys.sort();
    native_keys.dedup();
    let mut removed = Vec::new();
    for native_key in native_keys {
        let key_lock = KeyLock::open(dir.path(), &native_key)?;
        let guard = key_lock.acquire(DEFAULT_LOCK_TIMEOUT)?;
        let mut left = 0;
        for file in list_segment_files(dir.path(), &native_key)? {
            if !file.live && remove_if_stale(&file.path)? {
                removed.push(Reclaimed {
                    path: file.path,
                    size: file.size,
                });
            } else {
                left += 1;
            }
        }
        #[cfg(unix)]
        if left == 0 {
            KeyLock::remove_files(guard, &key_lock)
                .map_err(|err| ShmError::io("removing an idle lock file in", dir.path(), err))?;
        }
        #[cfg(windows)]
        let _ = (guard, left);
    }
    Ok(removed)
}
