//! The per-user directory that holds every segment, lock and state file: a real directory of
//! this user's, closed to everyone else (0700), which is what keeps other users from reading,
//! replacing or blocking our segments, or planting links among them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::ShmError;
use crate::platform::{self, Os, Places};
use crate::safe_fs::create_new_private_dir;

/// Environment variable that overrides the segment directory.
pub const DIR_ENV: &str = "SHMIMAGE_DIR";

/// A checked, private directory for segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDir {
    path: PathBuf,
}

impl SegmentDir {
    /// The filesystem type of `path` (tmpfs, ext4, apfs…): Linux's `stat -f`, macOS's `statfs`.
    pub fn filesystem(&self) -> String {
        let path = self.path();
        #[cfg(target_os = "linux")]
        let found = std::process::Command::new("stat")
            .args(["-f", "-c", "%T"])
            .arg(path)
            .output()
            .ok();
        #[cfg(target_os = "macos")]
        if let Some(name) = crate::ipc::sys::filesystem_type(path).filter(|name| !name.is_empty()) {
            return name;
        }
        #[cfg(not(target_os = "linux"))]
        let found: Option<std::process::Output> = {
            let _ = path;
            None
        };
        found
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    }
}

impl SegmentDir {
    /// The directory for this user: the first usable place of
    /// [`platform::segment_dir_candidates`] (a squatted or unusable one is passed over, with a
    /// log line saying why), whatever `SHMIMAGE_DIR` says. One of these places found opened up
    /// is closed again (it has our name); a folder named by `SHMIMAGE_DIR` is the user's, so it
    /// is refused with a sentence instead, never changed.
    pub fn for_current_user() -> Result<Self, ShmError> {
        let mut first_error = None;
        for candidate in default_paths() {
            // Only the cache fallback can lack its parents; they are made when it is reached.
            if let Some(parent) = candidate.parent() {
                let _ = fs::create_dir_all(parent);
            }
            match Self::open(&candidate, OpenedUp::Close) {
                Ok(dir) => {
                    if let Some(err) = &first_error {
                        log::warn!("using {} for segments: {err}", candidate.display());
                    }
                    return Ok(dir);
                }
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| ShmError::PermissionDenied {
            path: PathBuf::new(),
            detail: format!("no directory for segments could be found; set {DIR_ENV}"),
        }))
    }

    /// The directory every shmimage process of this user meets in: `SHMIMAGE_DIR` if it is set
    /// (tests use it for isolation), else [`for_current_user`](Self::for_current_user).
    pub fn from_env_or_default() -> Result<Self, ShmError> {
        match std::env::var_os(DIR_ENV).filter(|dir| !dir.is_empty()) {
            Some(dir) => Self::at(PathBuf::from(dir)),
            None => Self::for_current_user(),
        }
    }

    /// Uses `path`, creating it (0700) if missing and refusing it unless it is a real directory
    /// that belongs to this user and to nobody else. An existing folder is never changed: one
    /// that others may enter is refused, with the sentence that says so.
    pub fn at(path: impl Into<PathBuf>) -> Result<Self, ShmError> {
        Self::open(&path.into(), OpenedUp::Refuse)
    }

    fn open(path: &Path, opened_up: OpenedUp) -> Result<Self, ShmError> {
        match fs::symlink_metadata(path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => create_private_dir(path)?,
            Err(err) => return Err(ShmError::io("checking the segment directory", path, err)),
            Ok(meta) => check_private_dir(path, &meta, opened_up)?,
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where segments go, best first (`platform::segment_dir_candidates`), from what this OS says.
fn default_paths() -> Vec<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    #[cfg(unix)]
    let uid = crate::ipc::sys::effective_uid();
    #[cfg(not(unix))]
    let uid = 0;
    #[cfg_attr(not(target_os = "macos"), allow(unused_mut))]
    let mut places = Places {
        uid,
        user: std::env::var("USERNAME").unwrap_or_default(),
        dev_shm: cfg!(target_os = "linux") && Path::new("/dev/shm").is_dir(),
        runtime_dir: absolute("XDG_RUNTIME_DIR"),
        cache_home: absolute("XDG_CACHE_HOME")
            .or_else(|| absolute("HOME").map(|h| h.join(".cache"))),
        temp_dir: std::env::temp_dir(),
        ..Places::default()
    };
    #[cfg(target_os = "macos")]
    {
        places.darwin_cache = crate::ipc::sys::darwin_user_dir(true);
        places.darwin_temp = crate::ipc::sys::darwin_user_dir(false);
    }
    platform::segment_dir_candidates(Os::current(), &places)
}

/// What to do with an existing directory of ours that others may enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenedUp {
    /// One of the default places, named by us: close it again.
    Close,
    /// A folder the user named: refuse it, leaving its mode as it is.
    Refuse,
}

fn create_private_dir(path: &Path) -> Result<(), ShmError> {
    match create_new_private_dir(path) {
        Ok(()) => Ok(()),
        // Another process created it at the same moment: check what is there now.
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(path)
                .map_err(|err| ShmError::io("checking the segment directory", path, err))?;
            check_private_dir(path, &meta, OpenedUp::Close)
        }
        Err(err) => Err(ShmError::io("creating the segment directory", path, err)),
    }
}

fn check_private_dir(
    path: &Path,
    meta: &fs::Metadata,
    opened_up: OpenedUp,
) -> Result<(), ShmError> {
    if !meta.file_type().is_dir() {
        let what = if meta.file_type().is_symlink() {
            "a symbolic link"
        } else {
            "not a directory"
        };
        return Err(ShmError::PermissionDenied {
            path: path.to_path_buf(),
            detail: format!(
                "the segment directory is {what}; remove it or set {DIR_ENV} to another directory"
            ),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let me = crate::ipc::sys::effective_uid();
        if meta.uid() != me {
            return Err(ShmError::PermissionDenied {
                path: path.to_path_buf(),
                detail: format!(
                    "the segment directory belongs to uid {}, not to you (uid {me}); remove it or set {DIR_ENV}",
                    meta.uid()
                ),
            });
        }
        if meta.mode() & 0o077 != 0 {
            if opened_up == OpenedUp::Refuse {
                return Err(ShmError::PermissionDenied {
                    path: path.to_path_buf(),
                    detail: format!(
                        "other users may enter this folder (mode {:o}), and segments need one that only you can; point {DIR_ENV} at a new folder (shmimage makes it), or run chmod 700 on it if it holds nothing of anyone else's",
                        meta.mode() & 0o777
                    ),
                });
            }
            // Our own default place, opened up (by hand or a umask-less tool): close it again.
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                .map_err(|err| ShmError::io("making the segment directory private", path, err))?;
        }
    }
    #[cfg(windows)]
    {
        // Windows has no mode bits to read; the owner says whose folder it is.
        let mine = crate::ipc::sys::folder_is_mine(path)
            .map_err(|err| ShmError::io("checking who owns the segment directory", path, err))?;
        if !mine {
            return Err(ShmError::PermissionDenied {
                path: path.to_path_buf(),
                detail: format!(
                    "this folder belongs to another user or to the system, not to you; point {DIR_ENV} at a new folder (shmimage makes it) or at one of your own"
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = opened_up;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_a_private_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SegmentDir::at(tmp.path().join("segments")).unwrap();
        let mode = fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn closes_an_opened_up_directory_of_ours() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("segments");
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).unwrap();
        SegmentDir::open(&path, OpenedUp::Close).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    /// SHMIMAGE_DIR naming a folder that others may enter: `clean` changed it to 0700.
    #[test]
    fn refuses_an_opened_up_folder_it_was_pointed_at_and_leaves_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("project");
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        let err = SegmentDir::at(&path).unwrap_err().to_string();
        assert!(
            err.contains("mode 755") && err.contains("SHMIMAGE_DIR"),
            "{err}"
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn refuses_a_symlink_in_place_of_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        fs::create_dir(&target).unwrap();
        let link = tmp.path().join("segments");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = SegmentDir::at(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
}
