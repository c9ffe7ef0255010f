//! Where this check runs: a container, a sandbox, WSL. Each finding is read from the machine
//! ([`Markers::read`]) and told in the app's terms ([`container`], [`sandbox`]): what it means
//! for sharing images with programs outside. The telling is plain logic, tested for every OS.

use super::not_measured;
use crate::sentence::{Sentence, Separator, sentence};

/// What the machine shows of containers and sandboxes. `None`: could not be read here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Markers {
    /// `/.dockerenv`.
    pub docker: bool,
    /// `/run/.containerenv` (podman).
    pub podman: bool,
    /// `$container` (systemd-nspawn, podman, LXC set it).
    pub container_variable: Option<String>,
    /// A container runtime named in `/proc/self/cgroup`.
    pub cgroup_runtime: Option<&'static str>,
    /// Whether this process's IPC namespace differs from another's.
    pub own_ipc_namespace: Option<Compared>,
    /// Whether `/dev/shm` here is another filesystem than another process's `/dev/shm`.
    pub own_dev_shm: Option<Compared>,
    /// `/.flatpak-info`.
    pub flatpak: bool,
    /// `$SNAP_NAME`.
    pub snap: Option<String>,
    /// `$APP_SANDBOX_CONTAINER_ID` (macOS App Sandbox).
    pub macos_sandbox: bool,
    /// `$WSL_DISTRO_NAME`, or a kernel built by Microsoft.
    pub wsl: bool,
}

/// This process beside another: PID 1 where it may be looked at, else the parent (which a
/// container runtime or `unshare` leaves outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Compared {
    pub differs: bool,
    pub whose: Whose,
}

/// Whose namespace or `/dev/shm` this process's was compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Whose {
    Pid1,
    Parents,
}

impl Whose {
    fn said(self) -> Sentence {
        match self {
            Self::Pid1 => sentence!("PID 1's"),
            Self::Parents => sentence!("its parent processes'"),
        }
    }
}

impl Markers {
    /// Reads the markers of this machine and process.
    pub(super) fn read() -> Self {
        let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let exists = |path: &str| std::path::Path::new(path).exists();
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Self {
            docker: exists("/.dockerenv"),
            podman: exists("/run/.containerenv"),
            container_variable: variable("container"),
            cgroup_runtime: runtime_in_cgroup(&cgroup),
            own_ipc_namespace: compare(|pid| {
                let link = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/ipc")).ok();
                Some(link("self")? != link(pid)?)
            }),
            own_dev_shm: compare(own_dev_shm),
            flatpak: exists("/.flatpak-info"),
            snap: variable("SNAP_NAME"),
            macos_sandbox: variable("APP_SANDBOX_CONTAINER_ID").is_some(),
            wsl: variable("WSL_DISTRO_NAME").is_some()
                || kernel.to_ascii_lowercase().contains("microsoft"),
        }
    }
}

/// The container runtime a cgroup path names, if any.
fn runtime_in_cgroup(cgroup: &str) -> Option<&'static str> {
    [
        ("docker", "Docker"),
        ("kubepods", "Kubernetes"),
        ("libpod", "podman"),
        ("lxc", "LXC"),
    ]
    .into_iter()
    .find(|(marker, _)| cgroup.contains(marker))
    .map(|(_, name)| name)
}

/// `differs(pid)` for PID 1; where PID 1 may not be looked at (another user's, or more
/// privileged than this process), for this process's ancestors, nearest first: the first one
/// that differs, else all of them (a runtime or `unshare` that made a namespace is outside it).
fn compare(differs: impl Fn(&str) -> Option<bool>) -> Option<Compared> {
    if let Some(differs) = differs("1") {
        return Some(Compared {
            differs,
            whose: Whose::Pid1,
        });
    }
    let mut looked = false;
    for pid in ancestors() {
        match differs(&pid.to_string()) {
            Some(true) => {
                return Some(Compared {
                    differs: true,
                    whose: Whose::Parents,
                });
            }
            Some(false) => looked = true,
            None => {}
        }
    }
    looked.then_some(Compared {
        differs: false,
        whose: Whose::Parents,
    })
}

/// This process's ancestors below PID 1, nearest first, from /proc.
fn ancestors() -> Vec<u32> {
    let parent_of = |pid: &str| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid …": the name may hold spaces and parentheses.
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let mut found = Vec::new();
    let mut pid = parent_of("self");
    while let Some(parent) = pid.filter(|p| *p > 1 && found.len() < 64) {
        found.push(parent);
        pid = parent_of(&parent.to_string());
    }
    found
}

#[cfg(unix)]
fn own_dev_shm(pid: &str) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let here = std::fs::metadata("/dev/shm").ok()?;
    let there = std::fs::metadata(format!("/proc/{pid}/root/dev/shm")).ok()?;
    Some(here.dev() != there.dev())
}

#[cfg(not(unix))]
fn own_dev_shm(_pid: &str) -> Option<bool> {
    None
}

/// The container row for this machine. Windows' containers are not looked for: the markers
/// are Linux's (under Wine they would be the Linux host's).
pub(super) fn container_here() -> Sentence {
    if cfg!(windows) {
        return not_measured(sentence!("Windows containers are not looked for yet"));
    }
    container(&Markers::read())
}

/// The sandbox row for this machine; on Windows, the logon session, which bounds names.
pub(super) fn sandbox_here() -> Sentence {
    if cfg!(windows) {
        session(session_id())
    } else {
        sandbox(&Markers::read())
    }
}

#[cfg(windows)]
fn session_id() -> Option<u32> {
    crate::protocol::probe::session_id()
}

#[cfg(not(windows))]
fn session_id() -> Option<u32> {
    None
}

/// Windows' logon session, told as what it means for names.
pub(super) fn session(id: Option<u32>) -> Sentence {
    match id {
        Some(0) => sentence!(
            "session 0, the services' own: a desktop program does not see this program's names unless they start with Global\\"
        ),
        Some(id) => sentence!(
            "session %{id}: names are seen by programs of this session only, and a service (session 0) needs names starting with Global\\, which only an administrator may create",
            id = id
        ),
        None => not_measured(sentence!("Windows did not say which session this is")),
    }
}

/// The container row: what was found, and what it means for sharing.
pub(super) fn container(markers: &Markers) -> Sentence {
    let mut found = Vec::new();
    if markers.docker {
        found.push(Sentence::as_is("Docker (/.dockerenv)"));
    }
    if markers.podman {
        found.push(Sentence::as_is("podman (/run/.containerenv)"));
    }
    if let Some(name) = &markers.container_variable {
        found.push(sentence!(
            "a container named by $container (%{name})",
            name = name
        ));
    }
    if let Some(runtime) = markers.cgroup_runtime {
        found.push(sentence!(
            "%{runtime} in this process's cgroup",
            runtime = runtime
        ));
    }
    let namespace = match markers.own_ipc_namespace {
        Some(Compared {
            differs: true,
            whose,
        }) => sentence!(
            "this process has an IPC namespace of its own (not %{whose}): System V keys, and so Qt 5 mode, are not shared with programs outside it",
            whose = whose.said()
        ),
        Some(Compared {
            differs: false,
            whose,
        }) => sentence!(
            "System V keys (Qt 5 mode) are shared with %{whose} IPC namespace",
            whose = whose.said()
        ),
        None => sentence!(
            "no other process's IPC namespace can be read here, so a private one cannot be ruled out"
        ),
    };
    let mut clauses = if found.is_empty() {
        vec![sentence!(
            "no container marker (Docker, podman, $container, cgroup)"
        )]
    } else {
        vec![Sentence::joined(found, Separator::Items)]
    };
    clauses.push(namespace);
    if markers.docker || markers.podman || markers.cgroup_runtime.is_some() {
        clauses.push(sentence!(
            "a container's /dev/shm is its own (Docker's holds 64 MiB unless --shm-size says more), so segments and native keys are shared only inside it unless /dev/shm and --ipc are shared"
        ));
    }
    Sentence::joined(clauses, Separator::Clauses)
}

/// The sandbox row: what was found, and what it means for sharing.
pub(super) fn sandbox(markers: &Markers) -> Sentence {
    let mut found = Vec::new();
    if markers.flatpak {
        found.push(sentence!(
            "Flatpak (/.flatpak-info): the app has a private /dev/shm, so nothing it shares (segments, native keys, Qt 6) is seen by programs outside the sandbox"
        ));
    }
    if let Some(name) = &markers.snap {
        found.push(sentence!(
            "Snap (%{name}): strict confinement allows only shared memory names starting with snap.%{name}., so other programs' keys need that prefix",
            name = name
        ));
    }
    if markers.macos_sandbox {
        found.push(sentence!(
            "the macOS App Sandbox: System V (Qt 5 mode) is forbidden, and POSIX names (native keys, Qt 6) must start with the app group's id and a slash"
        ));
    }
    if markers.wsl {
        found.push(sentence!(
            "WSL: shared memory is shared with Linux programs of this distribution, never with Windows programs"
        ));
    }
    if let Some(Compared {
        differs: true,
        whose,
    }) = markers.own_dev_shm
        && !markers.flatpak
    {
        found.push(sentence!(
            "a /dev/shm of its own (not %{whose}): segments and native keys are not shared with programs that see %{whose}",
            whose = whose.said()
        ));
    }
    if !found.is_empty() {
        return Sentence::joined(found, Separator::Clauses);
    }
    match markers.own_dev_shm {
        Some(Compared { whose, .. }) => sentence!(
            "none: not Flatpak, Snap, the macOS App Sandbox or WSL, and /dev/shm is %{whose}",
            whose = whose.said()
        ),
        None => sentence!("none found: not Flatpak, Snap, the macOS App Sandbox or WSL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The rows in English, as the command line prints them.
    fn container(markers: &Markers) -> String {
        super::container(markers).english()
    }

    fn sandbox(markers: &Markers) -> String {
        super::sandbox(markers).english()
    }

    fn session(id: Option<u32>) -> String {
        super::session(id).english()
    }

    #[test]
    fn a_private_ipc_namespace_means_qt5_is_not_shared_outside() {
        let markers = Markers {
            own_ipc_namespace: Some(Compared {
                differs: true,
                whose: Whose::Parents,
            }),
            ..Markers::default()
        };
        let row = container(&markers);
        assert!(row.starts_with("no container marker"), "{row}");
        assert!(
            row.contains("of its own (not its parent processes'): System V keys, and so Qt 5 mode, are not shared with programs outside it"),
            "{row}"
        );
        let docker = container(&Markers {
            docker: true,
            cgroup_runtime: runtime_in_cgroup("0::/docker/4f1e"),
            own_ipc_namespace: Some(Compared {
                differs: false,
                whose: Whose::Pid1,
            }),
            ..Markers::default()
        });
        assert!(docker.starts_with("Docker (/.dockerenv), Docker in this process's cgroup"));
        assert!(docker.contains("64 MiB unless --shm-size"), "{docker}");
        assert!(container(&Markers::default()).contains("cannot be ruled out"));
        assert!(
            container(&Markers {
                podman: true,
                ..Markers::default()
            })
            .starts_with("podman (/run/.containerenv)")
        );
    }

    #[test]
    fn windows_sessions_say_what_they_mean_for_names() {
        assert!(session(Some(0)).starts_with("session 0, the services' own"));
        assert!(
            session(Some(1)).contains("Global\\"),
            "{}",
            session(Some(1))
        );
        assert!(session(None).starts_with("not measured"));
    }

    #[test]
    fn each_sandbox_says_what_it_means_for_sharing() {
        let own = Some(Compared {
            differs: true,
            whose: Whose::Pid1,
        });
        let flatpak = sandbox(&Markers {
            flatpak: true,
            own_dev_shm: own,
            ..Markers::default()
        });
        assert!(flatpak.starts_with("Flatpak (/.flatpak-info): the app has a private /dev/shm"));
        assert!(!flatpak.contains("of its own (not PID 1's)"), "{flatpak}");
        let snap = sandbox(&Markers {
            snap: Some("shmimage".to_owned()),
            ..Markers::default()
        });
        assert!(snap.contains("snap.shmimage."), "{snap}");
        let mac = sandbox(&Markers {
            macos_sandbox: true,
            ..Markers::default()
        });
        assert!(mac.contains("System V (Qt 5 mode) is forbidden"), "{mac}");
        assert!(
            sandbox(&Markers {
                wsl: true,
                ..Markers::default()
            })
            .starts_with("WSL")
        );
        let private = sandbox(&Markers {
            own_dev_shm: own,
            ..Markers::default()
        });
        assert!(
            private.starts_with("a /dev/shm of its own (not PID 1's)"),
            "{private}"
        );
        let none = sandbox(&Markers {
            own_dev_shm: Some(Compared {
                differs: false,
                whose: Whose::Pid1,
            }),
            ..Markers::default()
        });
        assert!(none.ends_with("/dev/shm is PID 1's"), "{none}");
    }
}
