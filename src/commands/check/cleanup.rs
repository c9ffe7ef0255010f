//! What a check leaves must go: its keys' leftovers once it ends, Ctrl-C's cleanup, and what a
//! run killed halfway left, found through the keys its work folder lists.

use std::path::Path;

use super::{ALIVE, KEYS, PREFIX};
use crate::protocol::{self, SegmentDir};
// Qt's objects are cleaned by publishing and withdrawing under their key (System V).
#[cfg(any(target_os = "linux", target_os = "macos"))]
use {
    super::{pattern, unrecorded},
    crate::codec,
    crate::protocol::Endpoint,
};

/// Removes dead processes' leftovers and idle lock files (never a live segment).
pub(super) fn clean_dir(dir: &SegmentDir) {
    if let Err(err) = protocol::clean(dir) {
        log::warn!("cleaning {}: {err}", dir.path().display());
    }
}

/// Removes what runs killed halfway left: their work folders, in the private segment directory,
/// name their keys.
pub(super) fn clean_after_interrupted_runs(dir: &SegmentDir) {
    let Ok(entries) = std::fs::read_dir(dir.path()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&format!("{PREFIX}-")))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        // A real folder only: never through a link.
        let is_dir = std::fs::symlink_metadata(entry.path()).is_ok_and(|m| m.is_dir());
        if is_dir && pid != std::process::id() && !run_alive(&entry.path()) {
            let _ = clean_keys(dir, &entry.path());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The keys a run's work folder lists, if they have the shape a run gives its keys
/// (`shmimage-check-<pid>-<row>`): anything else in the file is ignored.
fn recorded_keys(work: &Path) -> Vec<String> {
    let Ok(file) = crate::safe_fs::open_file(&work.join(KEYS), crate::safe_fs::OpenFor::Reading)
    else {
        return Vec::new();
    };
    let mut text = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::Read::take(file, 64 * 1024), &mut text);
    text.lines()
        .filter(|key| is_check_key(key))
        .map(str::to_owned)
        .collect()
}

fn is_check_key(key: &str) -> bool {
    key.strip_prefix(&format!("{PREFIX}-"))
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(pid, slug)| {
            pid.parse::<u32>().is_ok() && super::all_slugs().any(|known| known == slug)
        })
}

/// Removes the leftovers of the keys listed in `work/keys`: in the directory, what dead
/// processes left (a live segment is never touched); on Linux, Qt objects of those keys.
/// Returns whether none of those keys has anything left: a file in the directory, or (Linux)
/// Qt's key files, which a child killed a moment ago may still hold open.
pub(super) fn clean_keys(dir: &SegmentDir, work: &Path) -> bool {
    // The run's pid names its second user's folder too.
    if let Some(pid) = work.file_name().and_then(|name| {
        name.to_str()?
            .strip_prefix(&format!("{PREFIX}-"))?
            .parse()
            .ok()
    }) {
        super::users::remove_other_users_folder(pid);
    }
    clean_dir(dir);
    let keys = recorded_keys(work);
    #[cfg_attr(windows, allow(unused_mut, reason = "Qt's key files are System V's"))]
    let mut qt_left = false;
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    for key in keys.iter().filter(|k| k.contains("-qt")) {
        // A Qt-mode writer that stops at once removes any leftover segment and semaphore.
        let endpoint =
            unrecorded(Endpoint::in_dir(key, dir.clone()).with_mode(protocol::Mode::Qt5));
        match protocol::publish(&endpoint, &pattern(1, 1, 0), codec::Encoding::Png) {
            Ok(publication) => publication.withdraw(),
            Err(err) => log::warn!("cleaning Qt's objects of {key}: {err}"),
        }
        qt_left |= protocol::qt_rules::qt5_objects_left(&endpoint);
    }
    let prefixes: Vec<String> = keys
        .iter()
        .filter_map(|key| protocol::native_key_for(key).ok())
        .map(|native| format!("{native}."))
        .collect();
    // `clean` leaves lock files on Windows, where a file someone has open cannot simply be
    // deleted; these keys are this run's alone, so once a key has no segment left, its lock and
    // state files go too.
    #[cfg(windows)]
    remove_idle_lock_files(dir, &prefixes);
    !qt_left
        && !std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                prefixes
                    .iter()
                    .any(|prefix| name.starts_with(prefix.as_str()))
            })
}

#[cfg(windows)]
fn remove_idle_lock_files(dir: &SegmentDir, prefixes: &[String]) {
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    for prefix in prefixes {
        let ours = |name: &&String| name.starts_with(prefix.as_str());
        if names.iter().filter(ours).any(|name| name.ends_with(".seg")) {
            continue;
        }
        for name in names.iter().filter(ours) {
            let _ = std::fs::remove_file(dir.path().join(name));
        }
    }
}

/// Whether the run that owns this work folder still lives: it keeps `alive` locked until it
/// ends. A folder without that file (or one we can lock) belongs to a run that is gone.
fn run_alive(work: &Path) -> bool {
    match std::fs::File::open(work.join(ALIVE)) {
        Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}
