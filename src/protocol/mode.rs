//! The ways of sharing an image under a key, listed once in [`Mode::ALL`] with what a person
//! needs to know about each: everything that offers a choice of mode reads this list.

/// How images are shared under a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// This project's crash-safe segment files with a checked header.
    #[default]
    Shmimage,
    /// What Qt 5's example does on Linux: System V segment and semaphore, `QDataStream` PNG.
    Qt5,
    /// What Qt 6.6+'s example does on Linux (`QNativeIpcKey`): POSIX shared memory and a POSIX
    /// semaphore named after the key, the same `QDataStream` PNG.
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

impl Mode {
    /// Every mode, in the order they are offered: everything that lists modes goes through it.
    pub const ALL: [Mode; 3] = [Mode::Shmimage, Mode::Qt5, Mode::Qt6];

    pub fn facts(self) -> &'static ModeFacts {
        &MODE_FACTS[self as usize]
    }

    /// Qt's own formats (marker and PNG) rather than ours.
    pub fn is_qt(self) -> bool {
        !self.facts().encoding_is_chosen
    }

    /// Whether this build and OS offer the mode at all.
    pub fn is_available(self) -> bool {
        self == Self::Shmimage || cfg!(target_os = "linux")
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
