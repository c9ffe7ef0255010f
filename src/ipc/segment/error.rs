//! What can go wrong with a shared-memory segment, in Qt's categories and in words a person can act on.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Qt's `QSharedMemory::SharedMemoryError`, for readers who know the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedMemoryError {
    PermissionDenied,
    InvalidSize,
    KeyError,
    AlreadyExists,
    NotFound,
    LockError,
    OutOfResources,
    UnknownError,
}

/// Every failure of the shared-memory layer. The texts appear as-is in the window's status line
/// and after `error:` on stderr, so each one says what happened and, where it helps, what to do.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    #[error("permission denied for {path}: {detail}", path = path.display())]
    PermissionDenied { path: PathBuf, detail: String },

    #[error("invalid segment size {size} bytes: {reason}")]
    InvalidSize { size: u64, reason: String },

    #[error("invalid key {key:?}: {reason}", key = shorten(key))]
    KeyError { key: String, reason: String },

    #[error("a segment for key {key:?} already exists (created by a live process)", key = shorten(key))]
    AlreadyExists { key: String },

    #[error("nothing is shared under key {key:?}; load an image in another window first", key = shorten(key))]
    NotFound { key: String },

    #[error("nothing is shared under key {key:?}: the segment left by pid {pid}, which exited without detaching, was removed; load an image in another window",
        key = shorten(key))]
    LeftoverRemoved { key: String, pid: u32 },

    #[error("{}", describe_lock_timeout(*holder, *holder_is_this_process, *waited))]
    LockTimeout {
        holder: Option<u32>,
        /// Another job of this very process holds it (the window runs jobs on threads).
        holder_is_this_process: bool,
        waited: Duration,
    },

    #[error("cancelled while waiting for the lock; nothing was changed")]
    Cancelled,

    #[error("key {key:?} collides with another program's System V {what} (id {id}): {detail}; it was left alone, so use another key",
        key = shorten(key))]
    Collision {
        key: String,
        what: &'static str,
        id: i32,
        detail: String,
    },

    #[error("cannot lock {path}: {source}", path = path.display())]
    LockFailed { path: PathBuf, source: io::Error },

    #[error("not enough shared memory for {needed} bytes in {dir} ({source}): {room}",
        dir = dir.display(),
        room = match available {
            Some(bytes) => crate::limits::what_fits(*bytes).english(),
            None => "free some space or share a smaller image".to_owned(),
        })]
    OutOfResources {
        needed: u64,
        dir: PathBuf,
        source: io::Error,
        /// The space the directory's filesystem has left, if it could be read.
        available: Option<u64>,
    },

    #[error("no segment is attached; attach or create one first")]
    NotAttached,

    #[error("the segment is attached read-only, so it cannot be written")]
    ReadOnly,

    #[error("the segment at {path} was changed by another process: {detail}", path = path.display())]
    Tampered { path: PathBuf, detail: String },

    #[error("{action} failed for {path}: {source}", path = path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl ShmError {
    /// The Qt error category of this failure.
    pub fn kind(&self) -> SharedMemoryError {
        match self {
            Self::PermissionDenied { .. } | Self::ReadOnly => SharedMemoryError::PermissionDenied,
            Self::InvalidSize { .. } => SharedMemoryError::InvalidSize,
            Self::KeyError { .. } | Self::Collision { .. } => SharedMemoryError::KeyError,
            Self::AlreadyExists { .. } => SharedMemoryError::AlreadyExists,
            Self::NotFound { .. } | Self::LeftoverRemoved { .. } | Self::NotAttached => {
                SharedMemoryError::NotFound
            }
            Self::LockTimeout { .. } | Self::LockFailed { .. } | Self::Cancelled => {
                SharedMemoryError::LockError
            }
            Self::OutOfResources { .. } => SharedMemoryError::OutOfResources,
            Self::Tampered { .. } | Self::Io { .. } => SharedMemoryError::UnknownError,
        }
    }

    /// Maps an I/O error on `path` to the matching category.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            io::ErrorKind::PermissionDenied => Self::PermissionDenied {
                path,
                detail: format!("{action}: {source}"),
            },
            _ => Self::Io {
                action,
                path,
                source,
            },
        }
    }
}

fn describe_lock_timeout(holder: Option<u32>, this_process: bool, waited: Duration) -> String {
    if this_process {
        return format!(
            "the segment is locked by another job of this same process; waited {waited:?}, try again when it finishes"
        );
    }
    let holder = holder
        .map(|pid| format!(" (pid {pid})"))
        .unwrap_or_default();
    format!(
        "the segment is locked by another process{holder}; waited {waited:?}, try again when it finishes"
    )
}

/// Keeps a 10,000-character key from flooding a status line.
fn shorten(key: &str) -> String {
    const MAX: usize = 64;
    if key.chars().count() <= MAX {
        key.to_owned()
    } else {
        let head: String = key.chars().take(MAX).collect();
        format!("{head}…")
    }
}
