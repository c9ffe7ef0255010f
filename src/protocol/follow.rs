//! Follow: tells, within a frame, that something new was published under a key, and costs
//! nothing while nothing changes. Where a mode's publishes are files (native segments, and Qt 6's
//! `/dev/shm/KEY` on Linux), the OS reports them (inotify, FSEvents, ReadDirectoryChangesW) and
//! one thread sleeps until it does; it then asks the protocol for the newest generation, so an
//! event for something else costs one cheap probe and is otherwise ignored. Qt 5's System V
//! segments are no files, so there the thread probes every [`PROBE_WITHOUT_EVENTS`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::Duration;

use super::{Endpoint, ShareError};

/// Where the OS reports a mode's publishes: files in `dir` whose names start with
/// `file_prefix` and end with `file_suffix`. Nothing else there counts: a probe writes the key's
/// lock state file, and following that would make every probe wake the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeWatch {
    pub dir: PathBuf,
    pub file_prefix: String,
    pub file_suffix: String,
    /// Some writes make no event (through a mapping, as NumPy writes a native key): probe as
    /// often as without events too, the events only making news come sooner.
    pub probe_too: bool,
}

/// How often a mode with no file events is probed: well within a 60 Hz frame. One probe is one
/// `shmget` and one `shmctl(IPC_STAT)`.
pub const PROBE_WITHOUT_EVENTS: Duration = Duration::from_millis(8);

/// A watched mode is probed this often too, in case the OS dropped events (an inotify queue
/// overflow, a file system that reports none).
pub const PROBE_DESPITE_EVENTS: Duration = Duration::from_secs(2);

/// A follower's fetch that fails is tried this many more times, [`RETRY_PAUSE`] apart: Follow
/// reacts within microseconds of a new segment appearing, and in Qt's protocols a writer creates
/// its segment before it takes the lock, so a reader can meet it empty (a 5 Hz Qt 6 stream lost
/// one frame in eight this way in a CI run).
pub const FETCH_RETRIES: usize = 3;
pub const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// `fetch()`, tried again while it fails (see [`FETCH_RETRIES`]).
pub fn fetch_retrying<T, E>(mut fetch: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let mut result = fetch();
    for _ in 0..FETCH_RETRIES {
        if result.is_ok() {
            break;
        }
        std::thread::sleep(RETRY_PAUSE);
        result = fetch();
    }
    result
}

enum Wake {
    Changed,
    Stop,
}

/// Follows a key until dropped. Dropping never waits: the thread ends at its next wake-up.
pub struct Follower {
    wake: Sender<Wake>,
    probes: Arc<AtomicUsize>,
    watching: bool,
}

impl Follower {
    /// How many times the generation has been looked up so far (a test seam: it stays put
    /// while nothing changes).
    pub fn probes(&self) -> usize {
        self.probes.load(Ordering::Relaxed)
    }

    /// Whether the OS reports changes (else the key is probed every [`PROBE_WITHOUT_EVENTS`]).
    pub fn is_watching(&self) -> bool {
        self.watching
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.wake.send(Wake::Stop);
    }
}

/// Calls `on_new(Ok(generation))` on a thread of its own whenever the newest generation under
/// the endpoint's key changes, starting with the one there now, if any. Publishes that replace
/// one another faster than `on_new` returns are reported once, as the newest. A panic, in a probe
/// or in `on_new`, stops following and is reported once as `on_new(Err(sentence))`: Follow never
/// stops without a word.
pub fn follow(
    endpoint: &Endpoint,
    mut on_new: impl FnMut(Result<u64, String>) + Send + 'static,
) -> Result<Follower, ShareError> {
    let protocol = endpoint.protocol()?;
    let (wake, woken) = channel();
    let watch = protocol.change_watch();
    let watcher = watch
        .clone()
        .and_then(|watch| watch_directory(watch, wake.clone()));
    let every = match &watch {
        Some(watch) if watcher.is_some() && !watch.probe_too => PROBE_DESPITE_EVENTS,
        _ => PROBE_WITHOUT_EVENTS,
    };
    let probes = Arc::new(AtomicUsize::new(0));
    let follower = Follower {
        wake,
        probes: Arc::clone(&probes),
        watching: watcher.is_some(),
    };
    let spawned = std::thread::Builder::new()
        .name("shmimage-follow".to_owned())
        .spawn(move || {
            let _watcher = watcher;
            let mut last = None;
            loop {
                probes.fetch_add(1, Ordering::Relaxed);
                let probed = crate::panics::catch(|| match protocol.newest_generation() {
                    Ok(newest) if newest != last => {
                        last = newest;
                        if let Some(generation) = newest {
                            on_new(Ok(generation));
                        }
                    }
                    Ok(_) => {}
                    Err(err) => log::debug!("follow: {err}"),
                });
                if let Err(said) = probed {
                    on_new(Err(format!(
                        "Follow stopped after an internal error: {said}"
                    )));
                    return;
                }
                match woken.recv_timeout(every) {
                    Ok(Wake::Changed) | Err(RecvTimeoutError::Timeout) => {
                        // A publish makes several events (create, resize, ...): one probe.
                        while let Ok(wake) = woken.try_recv() {
                            if matches!(wake, Wake::Stop) {
                                return;
                            }
                        }
                    }
                    Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        });
    spawned.map_err(|err| ShareError::Follow(err.to_string()))?;
    Ok(follower)
}

/// Whether a file event may be a new publish under the key: any event about a file named
/// `prefix…suffix`, and any event that cannot say which file it is about:
/// - one that asks for a rescan (events were lost: inotify's queue or Windows'
///   `ReadDirectoryChangesW` buffer overflowed), or names no file at all;
/// - one about an 8.3 short name (`SHMIMA~1.SEG`), which `ReadDirectoryChangesW` may report
///   instead of the long one.
///
/// Opening and closing files are not news: that is how probes themselves read the segments.
fn is_news(event: &notify::Event, prefix: &str, suffix: &str) -> bool {
    if event.kind.is_access() {
        return false;
    }
    if event.need_rescan() || event.paths.is_empty() {
        return true;
    }
    event.paths.iter().any(|path| {
        path.file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| {
                (name.starts_with(prefix) && name.ends_with(suffix)) || is_short_name(name)
            })
    })
}

/// An 8.3 alias such as `SHMIMA~1.SEG`: at most eight characters, a `~` and digits, then at
/// most three.
fn is_short_name(name: &str) -> bool {
    let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
    let Some((base, number)) = stem.rsplit_once('~') else {
        return false;
    };
    stem.len() <= 8
        && extension.len() <= 3
        && !base.is_empty()
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Sends `Changed` for every event that may be a new publish under the key ([`is_news`]).
/// `None` (and Follow probes instead) if the OS cannot watch it.
fn watch_directory(watch: ChangeWatch, wake: Sender<Wake>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let (prefix, suffix) = (watch.file_prefix.clone(), watch.file_suffix.clone());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(event) => is_news(event, &prefix, &suffix),
            // Lost events: look, to be sure.
            Err(_) => true,
        };
        if relevant {
            let _ = wake.send(Wake::Changed);
        }
    })
    .map_err(|err| log::warn!("follow: cannot watch for changes ({err}); probing instead"))
    .ok()?;
    watcher
        .watch(&watch.dir, notify::RecursiveMode::NonRecursive)
        .map_err(|err| {
            log::warn!(
                "follow: cannot watch {} ({err}); probing instead",
                watch.dir.display()
            );
        })
        .ok()?;
    Some(watcher)
}

#[cfg(test)]
mod tests {
    use notify::Event;
    use notify::event::{AccessKind, CreateKind, EventKind, Flag, ModifyKind};

    use super::*;

    fn event(kind: EventKind, paths: &[&str]) -> Event {
        let mut event = Event::new(kind);
        for path in paths {
            event = event.add_path(path.into());
        }
        event
    }

    #[test]
    fn overflows_short_names_and_our_files_are_news_and_nothing_else_is() {
        let (prefix, suffix) = ("demo_89e4.g", ".seg");
        let created = EventKind::Create(CreateKind::File);
        let news = |kind, paths: &[&str]| is_news(&event(kind, paths), prefix, suffix);
        assert!(news(created, &["/d/demo_89e4.g7.seg"]));
        assert!(!news(
            created,
            &["/d/other_1234.g7.seg", "/d/demo_89e4.lock"]
        ));
        // Windows may name a new file by its 8.3 alias.
        assert!(news(created, &["/d/DEMO_8~1.SEG"]));
        assert!(!news(created, &["/d/notes~backup.txt"]));
        // Lost events: an overflow names no file and asks for a rescan.
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert!(is_news(&overflow, prefix, suffix));
        assert!(news(EventKind::Any, &[]));
        // Probes open and close segments to read them: that is not news.
        let read = EventKind::Access(AccessKind::Any);
        assert!(!news(read, &["/d/demo_89e4.g7.seg"]));
        assert!(news(
            EventKind::Modify(ModifyKind::Any),
            &["/d/demo_89e4.g8.seg"]
        ));
    }

    #[test]
    fn short_names_are_told_apart_from_long_ones() {
        for short in ["SHMIMA~1.SEG", "DEMO~12.SEG", "A~1"] {
            assert!(is_short_name(short), "{short}");
        }
        for long in [
            "demo_89e4.g7.seg",
            "notes~backup.txt",
            "~1.seg",
            "ABCDEFGHI~1.SEG",
            "AB~X.SEG",
        ] {
            assert!(!is_short_name(long), "{long}");
        }
    }
}
