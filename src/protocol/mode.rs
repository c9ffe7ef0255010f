//! The ways of sharing an image under a key, listed once in [`Mode::ALL`] with what a person
//! needs to know about each: everything that offers a choice of mode reads this list.

use crate::platform::Os;

/// How images are shared under a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// This project's crash-safe segment files with a checked header.
    #[default]
    Shmimage,
    /// What Qt 5's example does: on Linux a System V segment and semaphore, on Windows a named
    /// file mapping and semaphore; the image as a `QDataStream` PNG.
    Qt5,
    /// What Qt 6.6+'s example does (`QNativeIpcKey`): on Linux POSIX shared memory and a POSIX
    /// semaphore named after the key, on Windows a file mapping and a semaphore named after it.
    Qt6,
}

/// What a person (or the command line) needs to know about a mode.
#[derive(Debug)]
pub struct ModeFacts {
    /// What `--mode` calls it.
    pub id: &'static str,
    pub name: &'static str,
    /// Whether the encoding (raw or png) can be chosen; Qt's modes always store Qt's PNG.
    pub encoding_is_chosen: bool,
    pub lifetime: &'static str,
    /// Names this mode's journal files apart from the other modes' under the same key.
    pub journal_tag: &'static str,
}

/// Indexed by `Mode as usize`.
const MODE_FACTS: [ModeFacts; 3] = [
    ModeFacts {
        id: "shmimage",
        name: "shmimage's own segments",
        encoding_is_chosen: true,
        lifetime: "A segment exists while at least one live process is attached to it. When the last one \
            detaches or dies in any way (kill -9 included), the segment is gone for everyone: attaching \
            says nothing is shared, and the next publish succeeds. A dead process's files are removed by \
            the next create or attach. This is the same on Linux, macOS and Windows; Qt's example \
            instead leaves a crashed writer's segment behind on Linux.",
        journal_tag: "n",
    },
    ModeFacts {
        id: "qt5",
        name: "Qt 5 (System V)",
        encoding_is_chosen: false,
        lifetime: "Qt's rules: the segment lives while a process is attached, and whoever detaches last \
            removes it. A Qt process that crashes leaves its segment behind, and Qt's example then cannot \
            share again (\"Unable to create shared memory segment.\"); here such a leftover is removed by \
            the next load, which says so. A Qt writer that is still running keeps its image until a new \
            one replaces it.",
        journal_tag: "qt5",
    },
    ModeFacts {
        id: "qt6",
        name: "Qt 6 (POSIX)",
        encoding_is_chosen: false,
        lifetime: "Qt 6's rules (POSIX): the segment is /dev/shm/<key> and the lock the semaphore \
            /dev/shm/sem.<key>. Qt 6 never removes a segment, and its example reuses whatever is there. \
            Here every load makes a new segment, and the writer removes it when it stops sharing. Qt 6's \
            semaphore has no owner and no undo: if a Qt 6 program crashes while holding it, loads here \
            wait five seconds and then say how to clear it.",
        journal_tag: "qt6",
    },
];

/// Qt's modes on Windows: other objects, and other rules after a crash.
const WINDOWS_QT_FACTS: [ModeFacts; 2] = [
    ModeFacts {
        id: "qt5",
        name: "Qt 5 (file mapping)",
        encoding_is_chosen: false,
        lifetime: "Qt's rules on Windows: the segment is the named file mapping \
            qipc_sharedmemory_<key's letters><SHA-1>, and Windows frees it when the last program that \
            has it open closes it or dies; a crashed writer leaves nothing, unlike on Linux. The lock \
            is a named semaphore with no undo: a program killed while holding it leaves it taken while \
            any program has it open, and Qt's example then hangs; loads here wait five seconds and then \
            say how to clear it.",
        journal_tag: "qt5",
    },
    ModeFacts {
        id: "qt6",
        name: "Qt 6 (QNativeIpcKey)",
        encoding_is_chosen: false,
        lifetime: "Qt 6's rules on Windows: the segment is the named file mapping <key> and the lock the \
            semaphore <key>_sem. Windows frees the mapping when the last program that has it open \
            closes it or dies. One name holds one mapping, so a new image goes into the mapping that is \
            there if it fits. The semaphore has no undo: if a program crashes while holding it, loads \
            here wait five seconds and then say how to clear it.",
        journal_tag: "qt6",
    },
];

/// Qt 6's mode on macOS: objects without files, of at most 31 bytes' name. Never run yet.
const MACOS_QT6_FACTS: ModeFacts = ModeFacts {
    id: "qt6",
    name: "Qt 6 (POSIX)",
    encoding_is_chosen: false,
    lifetime: "Qt 6's rules on macOS (POSIX): the segment is shm_open(\"<key>\") and the lock \
        sem_open(\"<key>\"), a name of at most 31 bytes. Qt 6 never removes a segment, and macOS \
        lets an object be sized only once, so Qt's example cuts every later image to the first one's \
        size until the Mac restarts. Here every load makes a new segment, and the writer removes it \
        when it stops sharing. The semaphore has no undo: if a program crashes while holding it, \
        loads here wait five seconds and then say how to clear it.",
    journal_tag: "qt6",
};

impl Mode {
    /// Every mode, in the order they are offered: everything that lists modes goes through it.
    pub const ALL: [Mode; 3] = [Mode::Shmimage, Mode::Qt5, Mode::Qt6];

    pub fn facts(self) -> &'static ModeFacts {
        self.facts_on(Os::current())
    }

    /// The facts as they are on `os`.
    pub fn facts_on(self, os: Os) -> &'static ModeFacts {
        match (os, self) {
            (Os::Windows, Self::Qt5 | Self::Qt6) => &WINDOWS_QT_FACTS[self as usize - 1],
            (Os::MacOs, Self::Qt6) => &MACOS_QT6_FACTS,
            _ => &MODE_FACTS[self as usize],
        }
    }

    /// Qt's own formats (marker and PNG) rather than ours.
    pub fn is_qt(self) -> bool {
        !self.facts().encoding_is_chosen
    }

    /// Whether this build and OS offer the mode at all.
    pub fn is_available(self) -> bool {
        self == Self::Shmimage || cfg!(any(target_os = "linux", target_os = "macos", windows))
    }

    /// What a child process is given to run in this mode.
    pub fn args(self) -> [&'static str; 2] {
        ["--mode", self.facts().id]
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(id: &str) -> Result<Self, String> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.facts().id == id)
            .ok_or_else(|| {
                let ids: Vec<&str> = Mode::ALL.iter().map(|mode| mode.facts().id).collect();
                format!("{id:?} is not a mode; the modes are {}", ids.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::{Mode, Os};

    /// Each OS names Qt's modes after its own objects, but `--mode` and the journals know a mode
    /// by one id everywhere.
    #[test]
    fn every_os_keeps_the_ids_and_names_its_own_objects() {
        for os in [Os::Linux, Os::MacOs, Os::Windows] {
            for mode in Mode::ALL {
                assert_eq!(mode.facts_on(os).id, mode.facts_on(Os::Linux).id);
                assert_eq!(
                    mode.facts_on(os).journal_tag,
                    mode.facts_on(Os::Linux).journal_tag
                );
            }
        }
        assert_eq!(Mode::Qt5.facts_on(Os::Linux).name, "Qt 5 (System V)");
        assert_eq!(Mode::Qt5.facts_on(Os::Windows).name, "Qt 5 (file mapping)");
        assert!(Mode::Qt6.facts_on(Os::Windows).lifetime.contains("_sem"));
        assert_eq!(
            Mode::Shmimage.facts_on(Os::Windows).name,
            Mode::Shmimage.facts_on(Os::Linux).name
        );
    }
}
