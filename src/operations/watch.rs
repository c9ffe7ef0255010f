//! Republish on change: tells when an image file has changed on disk, for `put --watch` and the
//! window's "Republish on change". The file's folder is watched, not the file, so an editor that
//! saves by writing a new file and renaming it over the old one is seen as well as one that
//! rewrites the file in place. Events come in bursts while a file is written; the callback runs
//! once the burst has been quiet for [`QUIET`], and the caller then decides, by decoding, whether
//! the file is whole yet.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::Duration;

/// How long a file must go without events before it is looked at.
pub const QUIET: Duration = Duration::from_millis(80);

enum Wake {
    Changed,
    Stop,
}

/// Watches one file until dropped (dropping never waits).
pub struct FileWatch {
    wake: Sender<Wake>,
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        let _ = self.wake.send(Wake::Stop);
    }
}

/// Calls `on_change()` on a thread of its own after `path` was created, written, renamed onto or
/// replaced, once the writing has gone quiet. Fails with the sentence to show when the OS cannot
/// watch the file's folder.
pub fn watch_file(
    path: &Path,
    mut on_change: impl FnMut() + Send + 'static,
) -> Result<FileWatch, String> {
    use notify::Watcher as _;
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} names no file to watch", path.display()))?
        .to_owned();
    let (wake, woken) = channel();
    let events = wake.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let ours = match &event {
            Ok(event) if event.kind.is_access() => false,
            Ok(event) => event
                .paths
                .iter()
                .any(|p| p.file_name() == Some(name.as_os_str())),
            Err(_) => true,
        };
        if ours {
            let _ = events.send(Wake::Changed);
        }
    })
    .map_err(|err| format!("cannot watch files on this system: {err}"))?;
    watcher
        .watch(&folder, notify::RecursiveMode::NonRecursive)
        .map_err(|err| format!("cannot watch {}: {err}", folder.display()))?;
    std::thread::Builder::new()
        .name("shmimage-watch".to_owned())
        .spawn(move || {
            let _watcher = watcher;
            loop {
                match woken.recv() {
                    Ok(Wake::Changed) => {}
                    Ok(Wake::Stop) | Err(_) => return,
                }
                // Wait for the burst to end.
                loop {
                    match woken.recv_timeout(QUIET) {
                        Ok(Wake::Changed) => {}
                        Err(RecvTimeoutError::Timeout) => break,
                        Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                on_change();
            }
        })
        .map_err(|err| format!("cannot start watching: {err}"))?;
    Ok(FileWatch { wake })
}
