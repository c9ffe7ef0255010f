//! Qt's own IPC objects, named and used exactly as Qt names and uses them, behind the core's
//! [`Segment`](crate::ipc::segment::Segment) interface. On Linux: Qt 5's System V segment and
//! semaphore ([`sysv`]), and Qt 6.6+'s POSIX shared memory and named semaphore ([`posix`]). On
//! Windows: a named file mapping and a named semaphore for both ([`windows`]). On macOS, built
//! from Qt's and XNU's sources and never run yet: Qt 5's System V objects as on Linux, and Qt
//! 6.6+'s `shm_open`/`sem_open` objects ([`posix_macos`]). The protocols that speak Qt's format
//! over them are in `crate::protocol`.

#[cfg(target_os = "linux")]
pub mod posix;
#[cfg(target_os = "macos")]
pub mod posix_macos;
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub mod sysv;
#[cfg(windows)]
pub mod windows;

use crate::ipc::segment::ShmError;
use crate::platform::Os;

pub const SHARED_MEMORY_PREFIX: &str = "qipc_sharedmemory_";
pub const SEMAPHORE_PREFIX: &str = "qipc_systemsem_";

/// Qt 5's `makePlatformSafeKey` (and Qt 6's `legacyPlatformSafeKey`): the prefix, the key's
/// ASCII letters, and the SHA-1 of the key in lowercase hex. On Linux it names a key file in
/// Qt's temporary directory; on Windows it is the object's name itself.
pub fn platform_safe_key(key: &str, prefix: &str) -> Result<String, ShmError> {
    if key.is_empty() {
        return Err(ShmError::KeyError {
            key: String::new(),
            reason: "the key is empty; type a name such as QSharedMemoryExample".to_owned(),
        });
    }
    let letters: String = key.chars().filter(char::is_ascii_alphabetic).collect();
    let hash = sha1_smol::Sha1::from(key.as_bytes()).digest().to_string();
    Ok(format!("{prefix}{letters}{hash}"))
}

/// Which of Qt's keys a program on Windows uses; the names of its objects differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowsKey {
    /// Qt 5, and Qt 6 with a `QString` key: `qipc_sharedmemory_…` and `qipc_systemsem_…`.
    Legacy,
    /// Qt 6.6+'s example, `QNativeIpcKey(key)`: the key itself, and the key with `_sem`.
    Native,
}

/// The names of Qt's file mapping and semaphore for `key` on Windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsNames {
    pub mapping: String,
    pub semaphore: String,
}

/// Windows' longest path, which Qt 6 keeps a semaphore's name under.
const MAX_PATH: usize = 260;

/// What Qt names its objects on Windows (`QT_IPC_SPEC_WINDOWS_MACOS.md`, 1.1): both live in one
/// kernel namespace, so Qt 6 gives the semaphore its own suffix.
pub fn windows_names(key: &str, kind: WindowsKey) -> Result<WindowsNames, ShmError> {
    match kind {
        WindowsKey::Legacy => Ok(WindowsNames {
            mapping: platform_safe_key(key, SHARED_MEMORY_PREFIX)?,
            semaphore: platform_safe_key(key, SEMAPHORE_PREFIX)?,
        }),
        WindowsKey::Native => {
            if key.is_empty() || key.contains('\\') {
                return Err(ShmError::KeyError {
                    key: key.to_owned(),
                    reason: "Qt 6 uses the key as the object's name, which must be one name without a backslash".to_owned(),
                });
            }
            // Qt 6's semaphoreNativeKey: cut to MAX_PATH - 4 - 1 UTF-16 units, then "_sem".
            let units: Vec<u16> = key.encode_utf16().take(MAX_PATH - 5).collect();
            Ok(WindowsNames {
                mapping: key.to_owned(),
                semaphore: format!("{}_sem", String::from_utf16_lossy(&units)),
            })
        }
    }
}

/// What is under a Qt 6 key now (Linux and macOS), for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qt6Inspection {
    /// The segment, as the OS names it (`/dev/shm/KEY`, or `shm_open("KEY")` on macOS).
    pub segment: String,
    /// Size in bytes, if the segment exists.
    pub segment_size: Option<u64>,
    /// What tells this segment from a later one under the same name: the generation (a Qt 6
    /// writer that reuses its segment in place keeps it).
    pub segment_id: Option<u64>,
    pub semaphore: String,
    pub semaphore_exists: bool,
}

/// XNU's longest name for a POSIX shared memory object or semaphore (`PSHMNAMLEN`).
pub const MACOS_NAME_MAX: usize = 31;

/// The name Qt 6.6+'s `QNativeIpcKey` gives both POSIX objects on macOS: the key as it is
/// (`shm_open("QSharedMemoryExample")`), which XNU refuses over 31 bytes (`ENAMETOOLONG`).
pub fn macos_posix_name(key: &str) -> Result<String, ShmError> {
    let refuse = |reason: String| ShmError::KeyError {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() || key.contains('\0') {
        return Err(refuse(
            "Qt 6 uses the key as the object's name, which must be one name without NUL".to_owned(),
        ));
    }
    if key.len() > MACOS_NAME_MAX {
        return Err(refuse(format!(
            "macOS limits a POSIX shared memory name to {MACOS_NAME_MAX} bytes and this one has {}; use a shorter key",
            key.len()
        )));
    }
    Ok(key.to_owned())
}

/// Why a System V segment of `size` bytes could not be made (`shmget` said `EINVAL`), given the
/// limit the system reports (`shmmax`, if it could be read): the limit by name, and how to raise
/// it. macOS's default, 4 MiB, is small enough for a photo to hit it.
pub fn sysv_size_limit(os: Os, shmmax: Option<u64>, size: u64) -> String {
    let here = |default: &str| match shmmax {
        Some(max) => format!("here {max} bytes ({:.1} MiB)", max as f64 / 1048576.0),
        None => default.to_owned(),
    };
    match os {
        Os::MacOs => format!(
            "macOS allows a System V segment of at most kern.sysv.shmmax, {}, and this image \
             needs {size} bytes; share a smaller image, or raise the limit until the next restart \
             with `sudo sysctl -w kern.sysv.shmmax={} kern.sysv.shmall={}` (bytes, a multiple of \
             4096, and pages)",
            here("4 MiB unless raised"),
            round_up_to_page(size),
            round_up_to_page(size) / 4096
        ),
        _ => format!(
            "the system allows a System V segment of at most kernel.shmmax, {}, and this image \
             needs {size} bytes; share a smaller image, or raise kernel.shmmax with sysctl",
            here("see /proc/sys/kernel/shmmax")
        ),
    }
}

fn round_up_to_page(size: u64) -> u64 {
    size.div_ceil(4096).saturating_mul(4096)
}

/// Takes a semaphore that can only be tried (`sem_trywait`: Qt 6's named semaphore on Linux and
/// macOS), trying again after pauses that grow from 0.2 to 10 ms, by the monotonic clock, for
/// at most `timeout` (longer while `patience` says so). Marks the hold as begun (see
/// `interrupt`); on an error or a timeout it is ended here, else the caller's guard ends it.
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub(crate) fn take_retrying(
    mut try_take: impl FnMut() -> std::io::Result<bool>,
    timeout: std::time::Duration,
    patience: Option<&std::sync::Arc<dyn crate::ipc::segment::Patience>>,
    failed: impl FnOnce(std::io::Error) -> ShmError,
    too_long: impl FnOnce(std::time::Duration) -> ShmError,
) -> Result<(), ShmError> {
    use crate::ipc::segment::interrupt::{exit_requested, holding_begins, holding_ends};
    use std::time::Duration;
    let mut waiting = crate::ipc::segment::Waiting::new(timeout, patience);
    let mut pause = Duration::from_micros(200);
    holding_begins();
    let given_up = loop {
        let waited = match try_take() {
            Ok(true) => return Ok(()),
            // Qt 6's semaphore records no holder to ask about.
            Ok(false) => waiting.go_on(|| None),
            Err(err) => break failed(err),
        };
        match waited {
            Ok(true) if !exit_requested() => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            Ok(_) => break too_long(waiting.waited()),
            Err(cancelled) => break cancelled,
        }
    };
    holding_ends();
    Err(given_up)
}

/// What a live Qt segment must start with for a new publish to replace it: an image as Qt
/// writes one. The protocol passes the codec's test in, so this layer reads no image format.
#[derive(Debug, Clone, Copy)]
pub struct Replaceable {
    /// How many bytes the test looks at.
    pub start_len: usize,
    pub starts_as_expected: fn(&[u8]) -> bool,
}

impl Replaceable {
    /// Replaces nothing: without a test, a live segment is never taken for ours.
    pub const NOTHING: Self = Self {
        start_len: 0,
        starts_as_expected: |_| false,
    };

    fn accepts(&self, start: &[u8]) -> bool {
        self.start_len > 0 && start.len() == self.start_len && (self.starts_as_expected)(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macos_names_are_the_key_and_at_most_31_bytes() {
        assert_eq!(
            macos_posix_name("QSharedMemoryExample").unwrap(),
            "QSharedMemoryExample"
        );
        assert_eq!(macos_posix_name(&"k".repeat(31)).unwrap().len(), 31);
        let long = macos_posix_name(&"k".repeat(32)).unwrap_err().to_string();
        assert!(long.contains("31 bytes and this one has 32"), "{long}");
        // Bytes, not characters: ten 4-byte emoji are 40 bytes.
        assert!(macos_posix_name(&"😀".repeat(10)).is_err());
        assert!(macos_posix_name("").is_err());
        assert!(macos_posix_name("a\0b").is_err());
    }

    #[test]
    fn a_segment_over_the_limit_names_the_limit_and_how_to_raise_it() {
        let mac = sysv_size_limit(Os::MacOs, Some(4194304), 5_000_000);
        assert!(
            mac.contains("kern.sysv.shmmax, here 4194304 bytes (4.0 MiB)"),
            "{mac}"
        );
        assert!(
            mac.contains("kern.sysv.shmmax=5001216 kern.sysv.shmall=1221"),
            "{mac}"
        );
        assert_eq!(5001216 % 4096, 0);
        let unread = sysv_size_limit(Os::MacOs, None, 10);
        assert!(
            unread.contains("kern.sysv.shmmax, 4 MiB unless raised"),
            "{unread}"
        );
        let linux = sysv_size_limit(Os::Linux, None, 10);
        assert!(
            linux.contains("kernel.shmmax, see /proc/sys/kernel/shmmax"),
            "{linux}"
        );
    }

    /// The names the spec computed for Qt's example key (1.1), on every OS.
    #[test]
    fn windows_objects_are_named_as_qt_names_them() {
        let legacy = windows_names("QSharedMemoryExample", WindowsKey::Legacy).unwrap();
        assert_eq!(
            legacy,
            WindowsNames {
                mapping:
                    "qipc_sharedmemory_QSharedMemoryExampleff77196351dd7c1c8f79461ad32f21726fe31f5b"
                        .to_owned(),
                semaphore:
                    "qipc_systemsem_QSharedMemoryExampleff77196351dd7c1c8f79461ad32f21726fe31f5b"
                        .to_owned(),
            }
        );
        assert_eq!(legacy.mapping.encode_utf16().count(), 78);
        let native = windows_names("QSharedMemoryExample", WindowsKey::Native).unwrap();
        assert_eq!(native.mapping, "QSharedMemoryExample");
        assert_eq!(native.semaphore, "QSharedMemoryExample_sem");
        let long = "k".repeat(300);
        let cut = windows_names(&long, WindowsKey::Native).unwrap();
        assert_eq!(cut.semaphore.len(), 255 + 4);
        assert!(windows_names("Global\\x", WindowsKey::Native).is_err());
        assert!(windows_names("", WindowsKey::Legacy).is_err());
    }
}
