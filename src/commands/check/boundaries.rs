//! The rows after the lifetime table: the boundaries people hit with shared memory, measured
//! on this machine with throw-away names and sizes (never by filling memory), and told in the
//! app's terms. Other users' rows are in `users.rs`.

use std::path::Path;

use super::scenarios::{Observed, Scenario};
use super::{Check, Column, Section, not_measured, place, users};
use crate::limits::{human_bytes, what_fits};
use crate::platform::Os;
use crate::protocol::probe;
use crate::sentence::{Sentence, sentence};

/// Where a probe of names stops: longer names than this are not worth knowing.
const LONGEST_PROBED_NAME: usize = 4096;
/// Qt's key file and object names: the prefix and the SHA-1 around the key's letters.
const QT_NAME_OVERHEAD: usize = "qipc_sharedmemory_".len() + 40;

pub(super) const SECTIONS: &[(Section, &[Scenario])] = &[
    (Section::Limits, LIMITS),
    (Section::Place, PLACE),
    (Section::OtherUsers, users::ROWS),
    (Section::Visibility, VISIBILITY),
];

const LIMITS: &[Scenario] = &[
    Scenario {
        column: Column::Shmimage,
        slug: "name",
        name: "the longest file name",
        expected: "probed with throw-away files of growing length in the segment directory",
        run: longest_file_name_here,
    },
    Scenario {
        column: Column::QtRules,
        slug: "qtname",
        name: "the longest key",
        expected: "probed with throw-away names where Qt 5 puts its own",
        run: longest_qt_key,
    },
    Scenario {
        column: Column::NativeKeys,
        slug: "objname",
        name: "the longest name",
        expected: "probed with throw-away objects of growing name length",
        run: longest_object_name,
    },
    Scenario {
        column: Column::Shmimage,
        slug: "size",
        name: "the largest segment",
        expected: "the free space of the filesystem behind the segment directory, read, not filled",
        run: largest_segment_here,
    },
    Scenario {
        column: Column::QtRules,
        slug: "qtsize",
        name: "the largest segment",
        expected: "probed with private System V segments, created and removed, never touched \
                   (on Windows, the commit left, read)",
        run: largest_qt_segment,
    },
    Scenario {
        column: Column::NativeKeys,
        slug: "objsize",
        name: "the largest segment",
        expected: "the room the OS has for named objects, read, not filled",
        run: largest_object,
    },
    Scenario {
        column: Column::QtRules,
        slug: "qtcount",
        name: "segments a process may attach",
        expected: "the counts the kernel enforces",
        run: qt_segment_count,
    },
];

const PLACE: &[Scenario] = &[
    Scenario {
        column: Column::Machine,
        slug: "container",
        name: "a container",
        expected: "Docker and podman markers, the cgroup, and the IPC namespace beside PID 1's",
        run: |_, _| Ok(place::container_here()),
    },
    Scenario {
        column: Column::Machine,
        slug: "sandbox",
        name: "a sandbox",
        expected: "Flatpak, Snap, the macOS App Sandbox, WSL, and /dev/shm beside PID 1's",
        run: |_, _| Ok(place::sandbox_here()),
    },
];

const VISIBILITY: &[Scenario] = &[Scenario {
    column: Column::NativeKeys,
    slug: "visible",
    name: "names in the filesystem",
    expected: "a throw-away object is created and looked for as a file",
    run: names_in_the_filesystem,
}];

/// The longest name a new file may have in `dir`, by creating throw-away files there. Each is
/// made and removed whole before Ctrl-C's cleanup may run (`process::in_process`): one made
/// just after the cleanup looked would outlive the check.
fn longest_file_name(dir: &Path, prefix: &str) -> Result<usize, Sentence> {
    let works = |len: u64| {
        let name = format!("{prefix}{}", "x".repeat(len as usize - prefix.len()));
        let path = dir.join(name);
        super::process::in_process(|| {
            let made = crate::safe_fs::open_file(&path, crate::safe_fs::OpenFor::CreatingNew);
            made.is_ok() && std::fs::remove_file(&path).is_ok()
        })
    };
    if !works(prefix.len() as u64) {
        return Err(sentence!(
            "cannot create a file in %{dir}",
            dir = dir.display().to_string()
        ));
    }
    Ok(probe::largest_that_works(prefix.len() as u64, LONGEST_PROBED_NAME as u64, works) as usize)
}

/// A probed length, saying so when the probe stopped before the OS did.
fn length(bytes: usize) -> Sentence {
    if bytes >= LONGEST_PROBED_NAME {
        sentence!(
            "at least %{bytes} bytes (the probe stops there)",
            bytes = bytes
        )
    } else {
        sentence!("%{bytes} bytes", bytes = bytes)
    }
}

fn longest_file_name_here(check: &Check, key: &str) -> Observed {
    let longest = longest_file_name(check.dir.path(), &format!("{key}-"))?;
    let ours = probe::LONGEST_FILE_NAME;
    let meaning = if longest >= ours {
        sentence!(
            "every key fits, since shmimage's longest file name is %{ours} bytes",
            ours = ours
        )
    } else {
        sentence!(
            "a raw native key (setNativeKey) over %{bytes} bytes cannot be shared here; derived keys always fit",
            bytes = longest.saturating_sub(ours - 128)
        )
    };
    Ok(sentence!(
        "%{length}: %{meaning}",
        length = length(longest),
        meaning = meaning
    ))
}

fn qt_letters(longest: usize) -> Sentence {
    sentence!(
        "%{length}: Qt's example shares keys of up to %{letters} ASCII letters here (Qt keeps only a key's letters, between its prefix and the SHA-1); longer ones fail with \"Unable to create shared memory segment.\"",
        length = length(longest),
        letters = longest.saturating_sub(QT_NAME_OVERHEAD)
    )
}

#[cfg(unix)]
fn longest_qt_key(_check: &Check, key: &str) -> Observed {
    let dir = crate::protocol::qt_rules::qt_temp_dir();
    let longest = longest_file_name(&dir, &format!("{key}-"))?;
    Ok(sentence!(
        "%{letters} (key files in %{dir})",
        letters = qt_letters(longest),
        dir = dir.display().to_string()
    ))
}

/// The longest name a named object made with `key` before it may have, by creating throw-away
/// ones (each made and removed whole before Ctrl-C's cleanup may run).
fn longest_object_name_here(key: &str) -> Result<usize, String> {
    super::process::in_process(|| {
        probe::longest_object_name(&format!("{key}-"), LONGEST_PROBED_NAME)
    })
    .map_err(|err| err.to_string())
}

#[cfg(windows)]
fn longest_qt_key(_check: &Check, key: &str) -> Observed {
    let longest = longest_object_name_here(key).map_err(|error| {
        sentence!(
            "cannot create a named file mapping: %{error}",
            error = error
        )
    })?;
    Ok(sentence!(
        "%{letters} (file mapping names)",
        letters = qt_letters(longest)
    ))
}

fn longest_object_name(_check: &Check, key: &str) -> Observed {
    let longest = longest_object_name_here(key)
        .map_err(|error| sentence!("cannot create a native object: %{error}", error = error))?;
    Ok(if longest < 64 {
        sentence!(
            "%{length}: a native key (--native-key, and Qt 6's key) may be that long here; Qt 6 and other programs that use longer names fail here (ENAMETOOLONG)",
            length = length(longest)
        )
    } else {
        sentence!(
            "%{length}: a native key (--native-key, and Qt 6's key) may be that long here",
            length = length(longest)
        )
    })
}

fn largest_segment_here(check: &Check, _key: &str) -> Observed {
    let dir = check.dir.path();
    let free = probe::free_space(dir).map_err(|err| {
        sentence!(
            "cannot read the free space: %{error}",
            error = err.to_string()
        )
    })?;
    Ok(sentence!(
        "%{room} (%{filesystem} behind %{dir})",
        room = what_fits(free),
        filesystem = check.dir.filesystem(),
        dir = dir.display().to_string()
    ))
}

/// Where a probe of sizes stops: 1 TiB, past any image.
#[cfg(unix)]
const LARGEST_PROBED_SIZE: u64 = 1 << 40;

#[cfg(unix)]
fn largest_qt_segment(_check: &Check, _key: &str) -> Observed {
    let limits = probe::system_v_limits();
    let largest = probe::largest_system_v_segment(LARGEST_PROBED_SIZE).map_err(|err| {
        sentence!(
            "cannot create a System V segment: %{error}",
            error = err.to_string()
        )
    })?;
    let size = if largest >= LARGEST_PROBED_SIZE {
        sentence!(
            "at least %{size} (the probe stops there)",
            size = human_bytes(largest)
        )
    } else {
        sentence!(
            "%{bytes} bytes (%{size})",
            bytes = largest,
            size = human_bytes(largest)
        )
    };
    let number = |value: Option<u64>| value.map_or(sentence!("unread"), Sentence::from);
    Ok(sentence!(
        "%{size}, with shmmax %{shmmax} and shmall %{shmall} pages: Qt's example cannot share an image whose PNG is larger than that",
        size = size,
        shmmax = number(limits.max_bytes),
        shmall = number(limits.total_pages)
    ))
}

#[cfg(windows)]
fn largest_qt_segment(_check: &Check, _key: &str) -> Observed {
    Ok(match probe::commit_available() {
        Some(room) => sentence!(
            "%{room} of commit left (a file mapping is backed by the paging file): Qt's example cannot share an image whose PNG is larger than that",
            room = human_bytes(room)
        ),
        None => no_commit_limit(),
    })
}

#[cfg(windows)]
fn no_commit_limit() -> Sentence {
    not_measured(sentence!("Windows did not report its commit limit"))
}

fn largest_object(_check: &Check, _key: &str) -> Observed {
    match Os::current() {
        #[cfg(windows)]
        Os::Windows => Ok(match probe::commit_available() {
            Some(room) => sentence!(
                "%{room} (the commit left; a mapping is backed by the paging file)",
                room = what_fits(room)
            ),
            None => no_commit_limit(),
        }),
        Os::MacOs => Ok(not_measured(sentence!(
            "it cannot be without committing memory, since macOS keeps POSIX objects in memory, not on a filesystem with free space to read"
        ))),
        _ => {
            let free = probe::free_space(Path::new("/dev/shm")).map_err(|err| {
                sentence!(
                    "cannot read the free space of /dev/shm: %{error}",
                    error = err.to_string()
                )
            })?;
            Ok(sentence!("%{room} (/dev/shm)", room = what_fits(free)))
        }
    }
}

#[cfg(unix)]
fn qt_segment_count(_check: &Check, _key: &str) -> Observed {
    let limits = probe::system_v_limits();
    let system = limits
        .segments
        .map_or(sentence!("an unread number of"), Sentence::from);
    Ok(match limits.per_process {
        Some(each) => sentence!(
            "%{each} a process (shmseg) and %{system} on the system (shmmni): a window following more Qt keys than that cannot attach them all",
            each = each,
            system = system
        ),
        None => sentence!(
            "no limit a process; %{system} segments on the whole system (shmmni), shared by every program that uses System V",
            system = system
        ),
    })
}

#[cfg(windows)]
fn qt_segment_count(_check: &Check, _key: &str) -> Observed {
    Ok(sentence!(
        "no count: Windows limits mappings only by address space and commit"
    ))
}

fn names_in_the_filesystem(_check: &Check, key: &str) -> Observed {
    let file = probe::object_file(key)
        .map_err(|err| sentence!("cannot create an object: %{error}", error = err.to_string()))?;
    Ok(match (file, Os::current()) {
        (Some(path), _) => sentence!(
            "yes, as %{path}: ls shows every name, and removing the file removes the object (Open POSIX leaves this unspecified; this OS shows them)",
            path = path.display().to_string()
        ),
        (None, Os::Windows) => sentence!(
            "no: named objects live in the object namespace (\\Sessions\\<n>\\BaseNamedObjects, which WinObj shows), not in the filesystem"
        ),
        (None, _) => sentence!(
            "no: only shm_open finds an object, by its exact name, and no tool lists them (Open POSIX leaves this unspecified; this OS hides them)"
        ),
    })
}
