//! What `shmimage check` asks of Qt's own objects, to measure Qt's rules beside ours: Qt 5's
//! `create` made as Qt makes it, whether Qt's key files are left, and (Windows) Qt's semaphore
//! kept open as Qt's example keeps it.

use super::{Endpoint, ShareError};
#[cfg(windows)]
pub use crate::ipc::qt::windows::KeptSemaphore;

/// Whether Qt 5's own `create(size)` would succeed now under `key` (every OS):
/// `shmimage check` shows with it what Qt's rules do after a crash. `Ok` if it would;
/// `AlreadyExists` if Qt would say "Unable to create shared memory segment.".
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub fn create_as_qt5_does(endpoint: &Endpoint, size: usize) -> Result<(), ShareError> {
    super::qt5::Qt5Protocol::new(endpoint).create_as_qt_does(size)
}

/// Whether Qt 5's key files for `key` are still there (Linux, macOS): `check` cleans until they are not.
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub fn qt5_objects_left(endpoint: &Endpoint) -> bool {
    super::qt5::Qt5Protocol::new(endpoint).objects_left()
}

#[cfg(windows)]
pub fn create_as_qt5_does(endpoint: &Endpoint, size: usize) -> Result<(), ShareError> {
    super::qt_windows::QtWindowsProtocol::new(endpoint, crate::ipc::qt::WindowsKey::Legacy)?
        .create_as_qt_does(size)
}

/// Qt 5's semaphore under `key`, opened and kept as Qt's example keeps it after a load
/// (Windows): `shmimage check` shows with it that a killed lock holder freezes Qt's next lock.
#[cfg(windows)]
pub fn keep_qt5_semaphore_open(endpoint: &Endpoint) -> Result<KeptSemaphore, ShareError> {
    super::qt_windows::QtWindowsProtocol::new(endpoint, crate::ipc::qt::WindowsKey::Legacy)?
        .keep_semaphore_open()
}

/// The folder where Qt 5 keeps its key files (Linux, macOS): `check` measures its name limit.
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub fn qt_temp_dir() -> std::path::PathBuf {
    crate::ipc::qt::sysv::qt_temp_dir()
}
