//! Rules that differ between the OSes this program runs on, as plain functions of the OS, so
//! that Linux CI tests every OS's rules (no Mac and no real Windows run the tests here).

use std::path::{Path, PathBuf};

/// An OS whose rules a function applies: the running one in use, every one in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    /// The OS this program was built for (other Unixes follow Linux's rules).
    pub const fn current() -> Self {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Os::Linux => "Linux",
            Os::MacOs => "macOS",
            Os::Windows => "Windows",
        }
    }
}

/// What decides where this user's segments live, as the OS layer found it.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// The effective uid (Unix), which names the directory in a folder every user shares.
    pub uid: u32,
    /// The user's name (Windows).
    pub user: String,
    /// Linux: whether `/dev/shm` exists.
    pub dev_shm: bool,
    /// Linux: `$XDG_RUNTIME_DIR`, a per-user tmpfs made by the login manager.
    pub runtime_dir: Option<PathBuf>,
    /// Linux: `$XDG_CACHE_HOME`, else `$HOME/.cache`.
    pub cache_home: Option<PathBuf>,
    /// macOS: `confstr(_CS_DARWIN_USER_CACHE_DIR)` and `confstr(_CS_DARWIN_USER_TEMP_DIR)`, the
    /// user's private `/var/folders/…/C/` and `…/T/`, whatever the environment says.
    pub darwin_cache: Option<PathBuf>,
    pub darwin_temp: Option<PathBuf>,
    /// `std::env::temp_dir()`: `%TEMP%` on Windows, the last resort elsewhere.
    pub temp_dir: PathBuf,
}

/// Where `os` keeps this user's segments, best first; every process of the user goes down the
/// same list, so they meet where the first usable one is.
/// - Linux: `/dev/shm/shmimage-<uid>` (RAM-backed); since any user can take that name first,
///   then `$XDG_RUNTIME_DIR/shmimage`, then `<cache>/shmimage/segments`.
/// - macOS: the user's cache folder in `/var/folders`, which never depends on `TMPDIR` (cron,
///   launchd, `env -i` or an IDE may start a process with another one) and which macOS does not
///   sweep for age as it does the temporary folder beside it, whose files a live publisher's
///   mapping does not keep fresh; then that temporary folder, then `TMPDIR`.
/// - Windows: `%TEMP%\shmimage-<user>`, inside the user's profile.
pub fn segment_dir_candidates(os: Os, places: &Places) -> Vec<PathBuf> {
    let named = format!("shmimage-{}", places.uid);
    match os {
        Os::Linux => {
            let dev_shm = places.dev_shm.then(|| Path::new("/dev/shm").join(&named));
            let runtime = places.runtime_dir.as_ref().map(|dir| dir.join("shmimage"));
            let cache = places
                .cache_home
                .as_ref()
                .map(|dir| dir.join("shmimage").join("segments"));
            [dev_shm, runtime, cache].into_iter().flatten().collect()
        }
        Os::MacOs => {
            let darwin = [&places.darwin_cache, &places.darwin_temp];
            let mut candidates: Vec<PathBuf> = darwin
                .into_iter()
                .flatten()
                .map(|dir| dir.join(&named))
                .collect();
            candidates.push(places.temp_dir.join(&named));
            candidates
        }
        Os::Windows => {
            let user: String = places
                .user
                .chars()
                .filter(|c| !matches!(c, '\\' | '/' | ':'))
                .collect();
            let user = if user.is_empty() {
                "user".to_owned()
            } else {
                user
            };
            vec![places.temp_dir.join(format!("shmimage-{user}"))]
        }
    }
}

/// Whether `os` refusing to delete a file with `code` means someone still has it open or
/// mapped: then a dead writer's segment is not a leftover yet, only not yet let go of. Windows
/// refuses to delete a mapped file (`ERROR_USER_MAPPED_FILE`) or one open without delete
/// sharing (`ERROR_SHARING_VIOLATION`, `ERROR_ACCESS_DENIED`), and a killed process's handles
/// close some time after it is reported dead; Unix deletes open and mapped files.
pub fn delete_refused_while_in_use(os: Os, code: Option<i32>) -> bool {
    const ERROR_ACCESS_DENIED: i32 = 5;
    const ERROR_SHARING_VIOLATION: i32 = 32;
    const ERROR_USER_MAPPED_FILE: i32 = 1224;
    os == Os::Windows
        && matches!(
            code,
            Some(ERROR_ACCESS_DENIED | ERROR_SHARING_VIOLATION | ERROR_USER_MAPPED_FILE)
        )
}

/// What to tell a user whom `os` refused access (`code`) to the native key's object `name`,
/// where the reason is `os`'s own rule rather than a mistake; `None` to show the OS's words.
/// On Windows, an object in `Global\` can be created only with the "Create global objects"
/// privilege (administrators and services have it), and an elevated program's mapping is
/// closed to programs that are not.
pub fn native_key_denied(os: Os, name: &str, creating: bool, code: Option<i32>) -> Option<String> {
    const ERROR_ACCESS_DENIED: i32 = 5;
    if os != Os::Windows || code != Some(ERROR_ACCESS_DENIED) {
        return None;
    }
    let global = name
        .get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("Global\\"));
    Some(if creating && global {
        format!(
            "Windows refused to create {name:?}: an object in Global\\ needs the \"Create global objects\" privilege, which only programs run as an administrator or as a service have; run shmimage that way, or use a name without Global\\"
        )
    } else if creating {
        format!(
            "Windows refused to create {name:?}: an object of that name belongs to a program this user may not touch (one run as an administrator or by another user); choose another name"
        )
    } else {
        format!(
            "Windows refused to open {name:?}: the program that made it runs as an administrator (or as another user) and did not open it to others; run shmimage the same way, or have that program share it with everyone"
        )
    })
}

/// Windows' name for itself, from its registry (`SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion`):
/// "Windows 11 Pro 23H2 (build 22631.3007)". Windows 11 still calls itself "Windows 10" there;
/// its builds start at 22000.
pub fn windows_name(
    product: &str,
    display_version: Option<&str>,
    build: Option<u32>,
    revision: Option<u32>,
) -> String {
    let product = match build {
        Some(build) if build >= 22_000 => product.replacen("Windows 10", "Windows 11", 1),
        _ => product.to_owned(),
    };
    let mut name = product.trim().to_owned();
    if let Some(version) = display_version.filter(|v| !v.trim().is_empty()) {
        name = format!("{name} {}", version.trim());
    }
    match (build, revision) {
        (Some(build), Some(revision)) => format!("{name} (build {build}.{revision})"),
        (Some(build), None) => format!("{name} (build {build})"),
        _ => name,
    }
}

/// Longest name of a POSIX shared-memory object or semaphore on macOS, in bytes, not counting
/// the leading `/`: XNU's PSHMNAMLEN and PSEMNAMLEN are 31 with it. A longer name fails with
/// ENAMETOOLONG.
pub const MACOS_NAME_BYTES: usize = 30;

/// A native key (another program's shared-memory object) checked against `os`'s rules: the name
/// the OS's call takes, or the sentence that says why not.
/// - Linux and macOS (`shm_open`): one leading `/` is dropped, the rest is one name (no `/`,
///   no NUL, not `.` or `..`); at most 255 bytes on Linux, 30 on macOS.
/// - Windows (`CreateFileMappingW`): the name exactly, as Python and Qt pass it (a `/` is part
///   of it); the only `\` is that of a leading `Global\` or `Local\`; at most 260 characters.
pub fn native_key_name(name: &str, os: Os) -> Result<String, String> {
    if os == Os::Windows {
        return windows_object_name(name);
    }
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() {
        return Err("a native key needs a name after its leading '/'".to_owned());
    }
    if bare.contains(['/', '\0']) || bare == "." || bare == ".." {
        return Err(format!(
            "the native key {name:?} is not one name in the shared-memory namespace: it may start with one '/', and cannot contain '/' or NUL, nor be '.' or '..'"
        ));
    }
    match bare.len() {
        len if os == Os::MacOs && len > MACOS_NAME_BYTES => Err(format!(
            "the native key {name:?} is {len} bytes long, and macOS allows {MACOS_NAME_BYTES} (31 with its '/'): shorten it, on both sides"
        )),
        len if len > 255 => Err("a native key is limited to 255 bytes".to_owned()),
        _ => Ok(bare.to_owned()),
    }
}

fn windows_object_name(name: &str) -> Result<String, String> {
    let bare = ["Global\\", "Local\\"]
        .iter()
        .find_map(|namespace| name.strip_prefix(namespace))
        .unwrap_or(name);
    if bare.is_empty() {
        return Err("a native key needs a name".to_owned());
    }
    if bare.contains(['\\', '\0']) {
        return Err(format!(
            "the native key {name:?} is not one name among Windows' named objects: it may start with Global\\ or Local\\, and cannot otherwise contain '\\' or NUL"
        ));
    }
    if name.encode_utf16().count() > 260 {
        return Err("a native key is limited to 260 characters on Windows".to_owned());
    }
    Ok(name.to_owned())
}

/// The text of a fixed-size C string field (`statfs`'s `f_fstypename`): up to its first NUL, or
/// all of it if it has none.
pub fn c_string_field(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// `ftok`'s System V key from a file's device and inode, as glibc and the BSDs (macOS's libc
/// is FreeBSD's) compute it: the project id, then the low bytes of the device and the inode.
/// Qt 5 names its System V objects by `ftok(key file, 'Q')` on Linux and macOS alike.
pub fn ftok_key(dev: u64, ino: u64, proj_id: u8) -> i32 {
    let key = (u32::from(proj_id) << 24) | (((dev & 0xff) as u32) << 16) | ((ino & 0xffff) as u32);
    key as i32
}

/// Qt's `QDir::tempPath()` before symlinks are resolved, where Qt 5 keeps its key files:
/// `$TMPDIR` if set and not empty; else, on macOS, the per-user folder `NSTemporaryDirectory()`
/// gives (`confstr(_CS_DARWIN_USER_TEMP_DIR)`, `darwin_temp`); else /tmp.
pub fn qt_temp_dir(
    os: Os,
    tmpdir: Option<&std::ffi::OsStr>,
    darwin_temp: Option<&Path>,
) -> PathBuf {
    if let Some(dir) = tmpdir.filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    match (os, darwin_temp) {
        (Os::MacOs, Some(dir)) => dir.to_path_buf(),
        _ => PathBuf::from("/tmp"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftok_keeps_the_project_id_and_the_low_bytes_of_device_and_inode() {
        assert_eq!(ftok_key(0x1234_5601, 0xABCD_EF12, b'Q'), 0x5101_EF12);
        // A project id with the top bit set makes a negative key, as C's int does.
        assert!(ftok_key(0, 0, 0x80) < 0);
    }

    #[test]
    fn qt_looks_for_its_key_files_where_each_os_puts_temporary_files() {
        let darwin = Path::new("/var/folders/xy/abc/T");
        let tmpdir = std::ffi::OsStr::new("/home/me/tmp");
        for os in [Os::Linux, Os::MacOs] {
            assert_eq!(
                qt_temp_dir(os, Some(tmpdir), Some(darwin)),
                Path::new("/home/me/tmp")
            );
        }
        let empty = Some(std::ffi::OsStr::new(""));
        assert_eq!(
            qt_temp_dir(Os::Linux, empty, Some(darwin)),
            Path::new("/tmp")
        );
        assert_eq!(qt_temp_dir(Os::MacOs, empty, Some(darwin)), darwin);
        assert_eq!(qt_temp_dir(Os::MacOs, None, None), Path::new("/tmp"));
    }

    #[test]
    fn native_keys_are_one_name_in_each_oss_namespace() {
        for os in [Os::Linux, Os::MacOs] {
            assert_eq!(native_key_name("/psm_1a2b", os).unwrap(), "psm_1a2b");
            assert_eq!(native_key_name("frames", os).unwrap(), "frames");
            assert_eq!(native_key_name("共享内存", os).unwrap(), "共享内存");
            for bad in [
                "",
                "/",
                "//x",
                "a/b",
                "..",
                "/..",
                ".",
                "a\0b",
                &"x".repeat(256),
            ] {
                assert!(native_key_name(bad, os).is_err(), "{os:?} {bad:?}");
            }
        }
        for good in [
            "wnsm_1a2b",
            "/psm_1a2b",
            "Local\\frames",
            "Global\\frames",
            "共享内存",
        ] {
            assert_eq!(native_key_name(good, Os::Windows).unwrap(), good);
        }
        for bad in [
            "",
            "Local\\",
            "a\\b",
            "Local\\a\\b",
            "a\0b",
            &"x".repeat(261),
        ] {
            assert!(native_key_name(bad, Os::Windows).is_err(), "{bad:?}");
        }
    }

    /// macOS counts the '/' in its 31 bytes: 30 are left for the name, 36 failed there with a
    /// bare "File name too long (os error 63)".
    #[test]
    fn macos_names_are_limited_to_30_bytes_with_a_sentence() {
        let thirty = "x".repeat(30);
        assert_eq!(
            native_key_name(&format!("/{thirty}"), Os::MacOs).unwrap(),
            thirty
        );
        let err = native_key_name(&"x".repeat(31), Os::MacOs).unwrap_err();
        assert!(err.contains("macOS allows 30 (31 with its '/')"), "{err}");
        // Ten three-byte characters are thirty bytes.
        assert!(native_key_name(&"共".repeat(10), Os::MacOs).is_ok());
        assert!(native_key_name(&"共".repeat(11), Os::MacOs).is_err());
        // The same names are fine elsewhere.
        for os in [Os::Linux, Os::Windows] {
            assert!(native_key_name(&"x".repeat(36), os).is_ok(), "{os:?}");
        }
    }

    /// What macOS's report names as the filesystem: `f_fstypename`, not `stat -f %T`'s file type.
    #[test]
    fn a_c_string_field_ends_at_its_first_nul() {
        let mut field = [0u8; 16];
        field[..4].copy_from_slice(b"apfs");
        assert_eq!(c_string_field(&field), "apfs");
        assert_eq!(c_string_field(b"sixteen-bytes-fs"), "sixteen-bytes-fs");
        assert_eq!(c_string_field(&[0; 16]), "");
    }

    #[test]
    fn each_os_has_its_own_list_of_places_for_segments() {
        let places = Places {
            uid: 501,
            user: "Ann\\Lee:".to_owned(),
            dev_shm: true,
            runtime_dir: Some("/run/user/501".into()),
            cache_home: Some("/home/ann/.cache".into()),
            darwin_cache: Some("/var/folders/xy/abc/C".into()),
            darwin_temp: Some("/var/folders/xy/abc/T".into()),
            temp_dir: "/tmp/from-env".into(),
        };
        // Built with `join`, as the code builds them: `\\` between the parts on Windows.
        let under = |dir: &str, parts: &[&str]| {
            parts
                .iter()
                .fold(PathBuf::from(dir), |path, part| path.join(part))
        };
        assert_eq!(
            segment_dir_candidates(Os::Linux, &places),
            [
                under("/dev/shm", &["shmimage-501"]),
                under("/run/user/501", &["shmimage"]),
                under("/home/ann/.cache", &["shmimage", "segments"])
            ]
        );
        // macOS: TMPDIR (whatever started the process says) comes last, after the folders
        // the system gives the user.
        assert_eq!(
            segment_dir_candidates(Os::MacOs, &places),
            [
                under("/var/folders/xy/abc/C", &["shmimage-501"]),
                under("/var/folders/xy/abc/T", &["shmimage-501"]),
                under("/tmp/from-env", &["shmimage-501"])
            ]
        );
        assert_eq!(
            segment_dir_candidates(Os::Windows, &places),
            [under("/tmp/from-env", &["shmimage-AnnLee"])]
        );
        let bare = Places {
            temp_dir: "/tmp".into(),
            ..Places::default()
        };
        assert!(segment_dir_candidates(Os::Linux, &bare).is_empty());
        assert_eq!(
            segment_dir_candidates(Os::MacOs, &bare),
            [under("/tmp", &["shmimage-0"])]
        );
        assert_eq!(
            segment_dir_candidates(Os::Windows, &bare),
            [under("/tmp", &["shmimage-user"])]
        );
    }

    #[test]
    fn only_windows_refuses_to_delete_what_is_still_mapped() {
        for code in [5, 32, 1224] {
            assert!(delete_refused_while_in_use(Os::Windows, Some(code)));
            assert!(!delete_refused_while_in_use(Os::Linux, Some(code)));
            assert!(!delete_refused_while_in_use(Os::MacOs, Some(code)));
        }
        // Windows' ERROR_FILE_NOT_FOUND and ERROR_DISK_FULL are other failures.
        assert!(!delete_refused_while_in_use(Os::Windows, Some(2)));
        assert!(!delete_refused_while_in_use(Os::Windows, Some(112)));
        assert!(!delete_refused_while_in_use(Os::Windows, None));
    }

    #[test]
    fn windows_says_why_a_native_key_was_refused_and_other_oses_leave_it_to_the_os() {
        let global = native_key_denied(Os::Windows, "Global\\frames", true, Some(5)).unwrap();
        assert!(global.contains("Create global objects") && global.contains("administrator"));
        let elevated = native_key_denied(Os::Windows, "frames", false, Some(5)).unwrap();
        assert!(elevated.contains("runs as an administrator"), "{elevated}");
        let taken = native_key_denied(Os::Windows, "Local\\frames", true, Some(5)).unwrap();
        assert!(taken.contains("choose another name"), "{taken}");
        assert_eq!(
            native_key_denied(Os::Windows, "frames", false, Some(2)),
            None
        );
        assert_eq!(native_key_denied(Os::Linux, "frames", false, Some(5)), None);
        assert_eq!(
            native_key_denied(Os::MacOs, "Global\\x", true, Some(5)),
            None
        );
    }

    #[test]
    fn windows_is_named_as_its_registry_says_and_11_by_its_build() {
        assert_eq!(
            windows_name("Windows 10 Pro", Some("23H2"), Some(22631), Some(3007)),
            "Windows 11 Pro 23H2 (build 22631.3007)"
        );
        assert_eq!(
            windows_name("Windows 10 Enterprise", Some("22H2"), Some(19045), None),
            "Windows 10 Enterprise 22H2 (build 19045)"
        );
        assert_eq!(
            windows_name("Windows Server 2022 Standard", None, None, None),
            "Windows Server 2022 Standard"
        );
    }

    #[test]
    fn the_current_os_is_the_one_built_for() {
        assert_eq!(Os::current() == Os::Windows, cfg!(windows));
        assert_eq!(Os::current() == Os::MacOs, cfg!(target_os = "macos"));
    }
}
