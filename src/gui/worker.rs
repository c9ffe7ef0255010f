//! Work that must not run on the UI thread (dialogs, decoding, encoding, lock waits, copies), on
//! two long-lived threads: the foreground lane runs what the user asked for, the background lane
//! polls and withdrawals, so an inspector refresh never waits behind a five-second lock wait.
//! Every job carries a [`JobTag`], and its outcome comes back with it, so the window can tell a
//! stale outcome from a current one.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::pixels::{DisplayImage, TextureLanding, display_image};
use crate::codec::{Encoding, Header};
use crate::operations::publish::{self, ImageFile, Republished};
use crate::protocol::{Endpoint, Mode, Publication, ShareError};

/// What a file dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogFor {
    Load,
    Save,
    /// Another machine's `check --json` report, for the Check panel.
    Report,
}

/// Which job an outcome belongs to: the key and mode it ran for, or the native key that
/// overrode them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTag {
    pub id: u64,
    pub key: String,
    pub mode: Mode,
    pub native_key: Option<String>,
}

/// What a finished job reports. One is sent per job, so the size of the large variants is of no
/// concern.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// The dialog was cancelled: nothing changes.
    Cancelled,
    /// No native dialog could be shown at all (for a load, or for Save as…).
    DialogUnavailable(DialogFor),
    /// Save as… wrote the file (with a note when its format could not keep something).
    Saved {
        path: PathBuf,
        note: Option<String>,
    },
    SaveFailed(String),
    Published(Published),
    /// The file is an animation: the window plays it (`app/playing.rs`).
    AnimationFound(PathBuf),
    LoadFailed {
        error: ShareError,
    },
    /// A changed file that does not decode yet: the last good image stays shared.
    NotWholeYet(crate::codec::CodecError),
    Fetched {
        image: DisplayImage,
        header: Header,
        segment_size: usize,
        elapsed: Duration,
        note: Option<String>,
    },
    FetchFailed(ShareError),
    /// A fetch that Follow's thread made by itself (no job: the window is not busy with it).
    Followed(Box<Outcome>),
    /// What a panel's poller saw (see `panels::Panel::seen`).
    Seen {
        panel: &'static str,
        seen: Box<dyn std::any::Any + Send>,
    },
    /// "Check this OS" finished (its rows arrived one by one meanwhile).
    Checked(Result<crate::commands::check::Report, crate::commands::check::CheckError>),
    /// A lesson's run finished: its index, and what it found.
    LessonRan(
        usize,
        Result<crate::commands::check::Finding, crate::commands::check::CheckError>,
    ),
    /// Another machine's report, read for the Check panel (or why it could not be).
    ReportRead(Result<(PathBuf, crate::commands::check::Saved), String>),
    /// A job could not run or died of a bug; the window must not stay busy because of it.
    JobFailed(String),
}

/// A load, or an animation's frame, shared and ready to show.
pub struct Published {
    pub image: DisplayImage,
    pub publication: Publication,
    pub path: PathBuf,
    pub note: Option<String>,
    pub elapsed: Duration,
    /// An animation's frame: the id of the player that published it.
    pub frame_of: Option<u64>,
}

/// An outcome with the tag of the job that produced it.
pub struct Finished {
    pub tag: JobTag,
    pub outcome: Outcome,
}

/// Test seam: while the gate is closed, every job waits at it before it starts, so a test can
/// keep a job in flight for as many frames as it likes, without a clock.
#[derive(Clone, Default)]
pub struct JobGate(Arc<(Mutex<bool>, Condvar)>);

impl JobGate {
    /// Longest a job waits at a gate nobody opens: a test that forgets to open it fails on its
    /// own assertions instead of hanging.
    const LONGEST_HOLD: Duration = Duration::from_secs(60);

    pub fn closed() -> Self {
        Self::default()
    }

    pub fn open(&self) {
        let (opened, changed) = &*self.0;
        *opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        changed.notify_all();
    }

    fn pass(&self) {
        let (opened, changed) = &*self.0;
        let guard = opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = changed.wait_timeout_while(guard, Self::LONGEST_HOLD, |opened| !*opened);
    }
}

/// Which thread runs a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// What the user asked for: one at a time, in order.
    Foreground,
    /// Polls and withdrawals, beside whatever the foreground is waiting for.
    Background,
}

type Task = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Thread {
    tasks: Option<Sender<Task>>,
    handle: Option<JoinHandle<()>>,
}

/// The lanes' threads, and where each says that it has finished its last task.
struct Lanes {
    threads: [Thread; 2],
    stopped: Receiver<()>,
}

pub struct Worker {
    lanes: Lanes,
    results: Receiver<Finished>,
    sender: Sender<Finished>,
    repaint: egui::Context,
    gate: Option<JobGate>,
}

/// Lanes of dropped workers that may still be finishing a job (a withdrawal waiting for another
/// process's lock). `gui::run` waits for them after the window has closed, so closing never
/// keeps a window on screen, and what was shared is still withdrawn.
static LEFT_FOR_EXIT: Mutex<Vec<Lanes>> = Mutex::new(Vec::new());

/// Waits, at most `within` in all, for the jobs that dropped workers left running.
pub fn finish_left_work(within: Duration) {
    let left = std::mem::take(
        &mut *LEFT_FOR_EXIT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    let deadline = Instant::now() + within;
    for mut lanes in left {
        lanes.wait_until(deadline);
    }
}

impl Lanes {
    /// Closes the queues: each thread ends once it has run what it was given.
    fn close(&mut self) {
        for thread in &mut self.threads {
            thread.tasks = None;
        }
    }

    /// Waits for the threads to end, until `deadline`; a thread still busy then is left to the
    /// end of the process.
    fn wait_until(&mut self, deadline: Instant) {
        self.close();
        let running = self.threads.iter().filter(|t| t.handle.is_some()).count();
        for _ in 0..running {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.stopped.recv_timeout(left).is_err() {
                log::warn!("closing without waiting any longer for a background job");
                return;
            }
        }
        for thread in &mut self.threads {
            if let Some(handle) = thread.handle.take() {
                let _ = handle.join();
            }
        }
    }
}

impl Worker {
    /// How long the end of the program waits for the lanes to finish (a withdrawal can wait
    /// for another process's lock): a little more than the lock timeout, never for ever.
    pub const EXIT_WAIT: Duration = Duration::from_secs(6);

    pub fn new(repaint: egui::Context) -> Self {
        let (sender, results) = channel();
        let (stopped_tx, stopped) = channel();
        let lane = |name: &str| {
            let (tasks, queue) = channel::<Task>();
            let stopped_tx = stopped_tx.clone();
            let handle = std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || {
                    for task in queue {
                        task();
                    }
                    let _ = stopped_tx.send(());
                });
            match handle {
                Ok(handle) => Thread {
                    tasks: Some(tasks),
                    handle: Some(handle),
                },
                Err(err) => {
                    log::error!("cannot start the {name} thread: {err}");
                    Thread {
                        tasks: None,
                        handle: None,
                    }
                }
            }
        };
        Self {
            lanes: Lanes {
                threads: [lane("shmimage-foreground"), lane("shmimage-background")],
                stopped,
            },
            results,
            sender,
            repaint,
            gate: None,
        }
    }

    /// Where a thread of the window's own (Follow's) sends outcomes that are no job: they
    /// arrive through [`Worker::poll`] like the jobs' outcomes.
    pub fn outcomes(&self) -> Sender<Finished> {
        self.sender.clone()
    }

    /// Test seam: every job from now on waits at `gate` before it starts.
    pub fn hold_jobs_at(&mut self, gate: JobGate) {
        self.gate = Some(gate);
    }

    /// Runs `job` on `lane`; its outcome arrives, with `tag`, through [`Worker::poll`].
    pub fn spawn(&self, lane: Lane, tag: JobTag, job: impl FnOnce() -> Outcome + Send + 'static) {
        let sender = self.sender.clone();
        let repaint = self.repaint.clone();
        let gate = self.gate.clone();
        let failed_tag = tag.clone();
        let task = move || {
            if let Some(gate) = gate {
                gate.pass();
            }
            let outcome = crate::panics::catch(job).unwrap_or_else(Outcome::JobFailed);
            let _ = sender.send(Finished { tag, outcome });
            repaint.request_repaint();
        };
        if !self.run(lane, Box::new(task)) {
            let _ = self.sender.send(Finished {
                tag: failed_tag,
                outcome: Outcome::JobFailed("the worker thread is not running".to_owned()),
            });
        }
    }

    /// Runs `task` on the background lane with no outcome (a withdrawal: its drop takes the lock).
    pub fn run_quietly(&self, task: impl FnOnce() + Send + 'static) {
        self.run(Lane::Background, Box::new(task));
    }

    fn run(&self, lane: Lane, task: Task) -> bool {
        self.lanes.threads[lane as usize]
            .tasks
            .as_ref()
            .is_some_and(|tasks| tasks.send(task).is_ok())
    }

    pub fn poll(&self) -> Option<Finished> {
        self.results.try_recv().ok()
    }
}

impl Drop for Worker {
    /// Never waits: the lanes finish what they were given, and `finish_left_work` (after the
    /// window has closed) waits for them.
    fn drop(&mut self) {
        self.lanes.close();
        let lanes = Lanes {
            threads: std::mem::take(&mut self.lanes.threads),
            stopped: std::mem::replace(&mut self.lanes.stopped, channel().1),
        };
        LEFT_FOR_EXIT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(lanes);
    }
}

/// Decodes `path`, shows it and publishes it (Qt's `loadFromFile`); an animation is played
/// instead (`Outcome::AnimationFound`).
pub fn load_and_publish(
    endpoint: Endpoint,
    path: PathBuf,
    encoding: Encoding,
    max_side: usize,
) -> Outcome {
    let started = Instant::now();
    let loaded = match publish::open_image_file(&path) {
        Ok(ImageFile::Still(loaded)) => loaded,
        Ok(ImageFile::Animation(_)) => return Outcome::AnimationFound(path),
        Err(error) => {
            return Outcome::LoadFailed {
                error: error.into(),
            };
        }
    };
    match publish::publish_still(&endpoint, loaded, encoding) {
        Ok(published) => published_outcome(published, path, max_side, started),
        Err(error) => Outcome::LoadFailed { error },
    }
}

/// Republish on change: `path` changed on disk and is published again, unless it does not
/// decode yet (`Outcome::NotWholeYet`: the last good image stays shared).
pub fn republish(
    endpoint: Endpoint,
    path: PathBuf,
    encoding: Encoding,
    max_side: usize,
) -> Outcome {
    let started = Instant::now();
    match publish::republish(&endpoint, &path, encoding) {
        Ok(Republished::Published(published)) => {
            published_outcome(*published, path, max_side, started)
        }
        Ok(Republished::NotWholeYet(error)) => Outcome::NotWholeYet(error),
        Err(error) => Outcome::LoadFailed { error },
    }
}

fn published_outcome(
    published: publish::PublishedFile,
    path: PathBuf,
    max_side: usize,
    started: Instant,
) -> Outcome {
    Outcome::Published(Published {
        image: display_image(published.image, max_side),
        note: published.note,
        publication: published.publication,
        path,
        elapsed: started.elapsed(),
        frame_of: None,
    })
}

/// Qt's `loadFromMemory` for the window. A raw image that fits a texture is copied out of the
/// segment straight into egui's pixel buffer: no second 64 MB buffer and no conversion pass;
/// the pixels that are not opaque are premultiplied part by part as they land. Anything else
/// is decoded, then scaled.
/// With `whole_only` (Follow), a native key's frame that changed during every copy is not
/// shown but failed: the next frame comes soon. A Load shows it, with a note that says so.
pub fn fetch(endpoint: Endpoint, max_side: usize, whole_only: bool) -> Outcome {
    let started = Instant::now();
    let mut landing = TextureLanding::new(max_side);
    let fetched = match endpoint
        .protocol()
        .and_then(|protocol| protocol.fetch_into(&mut landing))
    {
        Ok(fetched) if whole_only && fetched.may_be_torn => {
            return Outcome::FetchFailed(ShareError::NativeKey(
                "skipped a frame that the writer changed during every copy".to_owned(),
            ));
        }
        Ok(fetched) => fetched,
        Err(error) => return Outcome::FetchFailed(error),
    };
    let header = fetched.header;
    let full_size = [header.width as usize, header.height as usize];
    let image = match (fetched.decoded, landing.into_display_image(full_size)) {
        (Some(image), _) => display_image(image, max_side),
        (None, Some(landed)) => landed,
        (None, None) => return Outcome::JobFailed("a fetch returned no pixels".to_owned()),
    };
    log::info!(
        "fetch {:.1} ms (copy {:.1}, checksum {:.1}), ready for the texture after {:.1} ms",
        fetched.stages.total.as_secs_f64() * 1e3,
        fetched.stages.copy.as_secs_f64() * 1e3,
        fetched.stages.checksum.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );
    Outcome::Fetched {
        image,
        header,
        segment_size: fetched.segment_size,
        elapsed: started.elapsed(),
        note: fetched.note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_that_panics_is_reported_instead_of_leaving_the_window_busy() {
        let worker = Worker::new(egui::Context::default());
        let tag = JobTag {
            id: 7,
            key: "k".to_owned(),
            mode: Mode::Shmimage,
            native_key: None,
        };
        worker.spawn(Lane::Foreground, tag.clone(), || panic!("boom"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let finished = loop {
            if let Some(finished) = worker.poll() {
                break finished;
            }
            assert!(Instant::now() < deadline, "no outcome");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(finished.tag, tag);
        assert!(matches!(finished.outcome, Outcome::JobFailed(what) if what == "boom"));
    }
}
