//! Qt's own IPC objects, named and used exactly as Qt names and uses them, behind the core's
//! [`Segment`](crate::ipc::segment::Segment) interface. On Linux: Qt 5's System V segment and
//! semaphore ([`sysv`]), and Qt 6.6+'s POSIX shared memory and named semaphore ([`posix`]). On
//! Windows: a named file mapping and a named semaphore for both ([`windows`]). The protocols
//! that speak Qt's format over them are in `crate::protocol`.

#[cfg(target_os = "linux")]
pub mod posix;
#[cfg(target_os = "linux")]
pub mod sysv;
#[cfg(windows)]
pub mod windows;

use crate::ipc::segment::ShmError;

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
    use super::{WindowsKey, WindowsNames, windows_names};

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
