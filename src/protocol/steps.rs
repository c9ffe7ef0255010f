//! [`Steps`], through which every protocol takes the article's steps: each step is recorded in this process's journal (for `shmimage trace`
//! and the window's Protocol panel), timed into the [`Stages`], and held for "Next step" in
//! step-through; lock waits are patient while the holder is being stepped through elsewhere,
//! and stop when the user cancels. The protocols' own files then read as the steps alone.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::step::Step;
use super::{Endpoint, ShareError, Stages};
use crate::ipc::segment::{AccessMode, Patience, Segment, SegmentAccess, Verdict};
use crate::protocol::journal::{self, State};

/// What a user interface can do about its own process's steps.
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// Step-through: called on the worker before each step, and returns once the user says go
    /// on (`true`) or cancels (`false`). Without step-through it returns `true` at once.
    fn before_step(&self, _step: Step, _qt_call: &'static str) -> bool {
        true
    }

    /// A lock wait goes on longer than usual, for the reason given; `None` once it is over.
    fn waiting(&self, _why: Option<String>) {}

    /// The user pressed Cancel: a lock wait stops at the next look (within 100 ms).
    fn cancelled(&self) -> bool {
        false
    }
}

/// Where one endpoint's steps go.
#[derive(Clone)]
pub(super) struct Recorder {
    /// Opened at the first step, so that a process that only looks (`info`, Follow's polls)
    /// writes no journal.
    journal: OnceLock<Option<journal::Handle>>,
    key: String,
    observer: Option<Arc<dyn Observer>>,
    patience: Arc<StepPatience>,
    qt: bool,
}

/// A lock wait's patience: it waits for as long as the holder is being stepped through in
/// another process (a class must not watch the other window fail), and stops on Cancel.
#[derive(Debug)]
pub(super) struct StepPatience {
    journal_dir: Option<(std::path::PathBuf, String, &'static str)>,
    observer: Option<Arc<dyn Observer>>,
    /// The holder seen during the current wait, for "waited 1.2 s for pid 4711".
    holder: Mutex<Option<u32>>,
}

impl Patience for StepPatience {
    fn ask(&self, waited: Duration, holder: Option<u32>) -> Verdict {
        if let Ok(mut seen) = self.holder.lock() {
            *seen = holder.or(*seen);
        }
        if self.observer.as_ref().is_some_and(|o| o.cancelled()) {
            return Verdict::Cancel;
        }
        let Some((dir, native_key, mode)) = &self.journal_dir else {
            return Verdict::AsUsual;
        };
        match journal::stepping_holder(dir, native_key, mode) {
            Some(pid) => {
                if let Ok(mut seen) = self.holder.lock() {
                    *seen = Some(pid);
                }
                if let Some(observer) = &self.observer {
                    observer.waiting(Some(format!(
                        "waiting for the lock held by pid {pid}, which is being stepped through: \
                         this waits for as long as it holds the lock ({:.0} s so far)",
                        waited.as_secs_f64()
                    )));
                }
                Verdict::KeepWaiting
            }
            None => Verdict::AsUsual,
        }
    }
}

impl Recorder {
    pub(super) fn new(endpoint: &Endpoint) -> Self {
        let facts = endpoint.mode.facts();
        let native_key = crate::ipc::segment::native_key_for(&endpoint.key).ok();
        let journal_dir = native_key
            .filter(|_| endpoint.options.journal)
            .map(|native| (endpoint.dir.path().to_path_buf(), native, facts.journal_tag));
        Self {
            journal: OnceLock::new(),
            key: endpoint.key.clone(),
            observer: endpoint.observer.clone(),
            patience: Arc::new(StepPatience {
                journal_dir,
                observer: endpoint.observer.clone(),
                holder: Mutex::new(None),
            }),
            qt: endpoint.mode.is_qt(),
        }
    }

    fn journal(&self) -> Option<&journal::Handle> {
        self.journal
            .get_or_init(|| {
                let (dir, native_key, tag) = self.patience.journal_dir.as_ref()?;
                journal::open(dir, &self.key, native_key, tag, self.qt)
            })
            .as_ref()
    }

    /// Makes `segment`'s lock waits ask this recorder's patience.
    pub(super) fn prepare(&self, segment: &mut dyn Segment) {
        let patience: Arc<dyn Patience> = self.patience.clone();
        segment.set_patience(Some(patience));
    }

    /// Starts `step` on `object` (the OS object it touches): in step-through, waits for "Next
    /// step" first. Finish it with [`Pending::done`].
    pub(super) fn begin(
        &self,
        step: Step,
        object: impl Into<String>,
    ) -> Result<Pending<'_>, ShareError> {
        let object = object.into();
        let qt_call = step.qt_call(self.qt);
        if step.is_ipc()
            && let Some(observer) = &self.observer
        {
            let paused = self
                .journal()
                .map(|j| j.begin(step, State::Paused, format!("paused before {qt_call}")));
            if !observer.before_step(step, qt_call) {
                if let Some(mut paused) = paused {
                    paused.finish(State::Failed, Duration::ZERO, Some("cancelled".to_owned()));
                }
                return Err(ShareError::SteppingCancelled);
            }
            if let Some(mut entry) = paused {
                entry.record.state = State::Running;
                entry.record.start_us = journal::now_us();
                entry.record.text = object.clone();
                entry.save();
                return Ok(self.pending(step, object, Some(entry)));
            }
        }
        Ok(self.begin_unstepped(step, object))
    }

    /// Starts `step` without ever pausing for step-through (a detach, which also runs while the
    /// program exits).
    pub(super) fn begin_unstepped(&self, step: Step, object: impl Into<String>) -> Pending<'_> {
        let object = object.into();
        let entry = self
            .journal()
            .map(|j| j.begin(step, State::Running, object.clone()));
        self.pending(step, object, entry)
    }

    fn pending(&self, step: Step, object: String, entry: Option<journal::Entry>) -> Pending<'_> {
        if let Ok(mut holder) = self.patience.holder.lock() {
            *holder = None;
        }
        Pending {
            recorder: self,
            entry,
            started: Instant::now(),
            step,
            object,
        }
    }

    /// Records `step` around `work`, which cannot fail and is never held for step-through (a
    /// detach, which also runs while the program exits; an unlock that drops a guard).
    pub(super) fn around(&self, step: Step, object: impl Into<String>, work: impl FnOnce()) {
        let pending = self.begin_unstepped(step, object);
        work();
        let _ = pending.done(Ok::<(), ShareError>(()));
    }

    /// Records a step that was noticed only after the fact (a leftover found and removed).
    pub(super) fn note(&self, step: Step, text: String) {
        if let Some(journal) = self.journal() {
            journal.note(step, text);
        }
    }
}

/// A step under way.
pub(super) struct Pending<'r> {
    recorder: &'r Recorder,
    entry: Option<journal::Entry>,
    started: Instant,
    step: Step,
    object: String,
}

impl Pending<'_> {
    /// Ends the step with its `result`, and passes the result on.
    pub(super) fn done<T, E: Into<ShareError>>(
        self,
        result: Result<T, E>,
    ) -> Result<T, ShareError> {
        let mut unused = Duration::ZERO;
        self.timed(result, &mut unused)
    }

    /// Like [`done`](Self::done), adding the step's time to `stage` as well.
    pub(super) fn timed<T, E: Into<ShareError>>(
        self,
        result: Result<T, E>,
        stage: &mut Duration,
    ) -> Result<T, ShareError> {
        let elapsed = self.started.elapsed();
        *stage += elapsed;
        let result = result.map_err(Into::into);
        if self.step.waits_for_lock()
            && let Some(observer) = &self.recorder.observer
        {
            observer.waiting(None);
        }
        if let Some(mut entry) = self.entry {
            let holder = self.recorder.patience.holder.lock().ok().and_then(|h| *h);
            let (state, text) = match &result {
                Ok(_) => {
                    let waited = match holder {
                        Some(pid) if self.step.waits_for_lock() => {
                            format!("; waited {} for pid {pid}", human_duration(elapsed))
                        }
                        _ => String::new(),
                    };
                    (State::Ok, format!("{}{waited}", self.object))
                }
                Err(err) => (State::Failed, err.to_string()),
            };
            entry.finish(state, elapsed, Some(text));
        }
        result
    }
}

/// "1.2 s", "340 µs": the way a timeline labels a step.
pub fn human_duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.1} ms", micros as f64 / 1e3)
    } else {
        format!("{:.1} s", micros as f64 / 1e6)
    }
}

/// One publish's or fetch's steps, taken on a segment in the article's order. Each method is
/// one step (or Qt's pair of them, as `create` is); all of them record, time and, in
/// step-through, wait for "Next step".
pub(super) struct Steps<'r> {
    recorder: &'r Recorder,
    started: Instant,
    stages: Stages,
    /// The lock taken last, for the journal's unlock step.
    lock: String,
}

impl<'r> Steps<'r> {
    pub(super) fn new(recorder: &'r Recorder) -> Self {
        Self {
            recorder,
            started: Instant::now(),
            stages: Stages::default(),
            lock: String::new(),
        }
    }

    /// Timed like Qt's `QDataStream` encoding, but left out of the journal: this project's own
    /// PNG, which is no Qt call.
    pub(super) fn encode_unrecorded<T>(&mut self, encode: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let encoded = encode();
        self.stages.encode += started.elapsed();
        encoded
    }

    /// Qt's `create(size)` then `lock()`: the new segment is filled under the same hold of the
    /// lock, so no reader ever sees it half-made. Both are in the journal, as two steps.
    pub(super) fn create<'s>(
        &mut self,
        segment: &'s mut dyn Segment,
        size: usize,
    ) -> Result<SegmentAccess<'s>, ShareError> {
        self.recorder.prepare(segment);
        let object = format!(
            "{size} bytes: {}; {}",
            segment.describe_segment(),
            segment.describe_lock()
        );
        self.lock = segment.describe_lock();
        let creating = self.recorder.begin(Step::Create, object)?;
        let access = creating.timed(
            segment.create_replacing_locked(size),
            &mut self.stages.create,
        )?;
        // Qt's writer calls lock() after create(); here the lock is taken with the create and
        // kept, which the journal shows as the article's step of its own.
        self.recorder.note(
            Step::Lock,
            format!(
                "{}: held from the create on, so no reader sees the new segment half-made",
                self.lock
            ),
        );
        Ok(access)
    }

    /// Qt's `attach()`, read-only, as a reader attaches.
    pub(super) fn attach(&mut self, segment: &mut dyn Segment) -> Result<(), ShareError> {
        self.recorder.prepare(segment);
        let attaching = self
            .recorder
            .begin(Step::Attach, segment.describe_segment())?;
        let attached = segment.attach(AccessMode::ReadOnly);
        let result = attaching.timed(attached, &mut self.stages.attach);
        self.noticed_cleanup(segment);
        result
    }

    /// Qt's `lock()`.
    pub(super) fn lock<'s>(
        &mut self,
        segment: &'s mut dyn Segment,
    ) -> Result<SegmentAccess<'s>, ShareError> {
        self.lock = segment.describe_lock();
        let locking = self.recorder.begin(Step::Lock, self.lock.clone())?;
        locking.timed(segment.lock(), &mut self.stages.lock)
    }

    /// `memcpy` into `data()`: `copy` writes into the locked segment.
    pub(super) fn copy_in<T, E: Into<ShareError>>(
        &mut self,
        access: &mut SegmentAccess<'_>,
        copy: impl FnOnce(&mut SegmentAccess<'_>) -> Result<T, E>,
    ) -> Result<T, ShareError> {
        let copying = self.recorder.begin(Step::CopyIn, copy_object(access))?;
        copying.timed(copy(access), &mut self.stages.copy)
    }

    /// `memcpy` out of `constData()`: `copy` reads the locked segment into private memory.
    pub(super) fn copy_out<T, E: Into<ShareError>>(
        &mut self,
        access: &SegmentAccess<'_>,
        copy: impl FnOnce(&SegmentAccess<'_>) -> Result<T, E>,
    ) -> Result<T, ShareError> {
        let copying = self.recorder.begin(Step::CopyOut, copy_object(access))?;
        copying.timed(copy(access), &mut self.stages.copy)
    }

    /// Qt's `unlock()`.
    pub(super) fn unlock(&mut self, access: SegmentAccess<'_>) -> Result<(), ShareError> {
        let unlocking = self.recorder.begin(Step::Unlock, self.lock.clone())?;
        access.unlock();
        unlocking.done(Ok::<(), ShareError>(()))
    }

    /// Qt's `detach()`. Never held for step-through: it also runs while the program exits.
    pub(super) fn detach(&mut self, segment: &mut dyn Segment) {
        detach(self.recorder, segment);
    }

    /// Records what a create or attach cleaned up (a dead writer's leftover), as a step of its
    /// own.
    pub(super) fn noticed_cleanup(&self, segment: &dyn Segment) {
        if let Some(note) = segment.cleanup_note() {
            self.recorder.note(Step::RemoveLeftover, note.to_owned());
        }
    }

    /// Part of the copy's time was spent checksumming: it is shown as a stage of its own.
    pub(super) fn spent_checksumming(&mut self, time: Duration) {
        self.stages.copy = self.stages.copy.saturating_sub(time);
        self.stages.checksum += time;
    }

    /// The time of each stage, and of all of them.
    pub(super) fn stages(&self) -> Stages {
        Stages {
            total: self.started.elapsed(),
            ..self.stages
        }
    }
}

/// Encoding and decoding: this process's own work, recorded as Qt's `QDataStream` steps.
// Qt's modes, which alone record them, are Linux's.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
impl Steps<'_> {
    /// This process's own work before or after the shared memory (Qt's `QDataStream`).
    pub(super) fn encode<T, E: Into<ShareError>>(
        &mut self,
        what: &str,
        encode: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, ShareError> {
        self.own_work(Step::Encode, what, encode)
    }

    pub(super) fn decode<T, E: Into<ShareError>>(
        &mut self,
        what: &str,
        decode: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, ShareError> {
        self.own_work(Step::Decode, what, decode)
    }

    fn own_work<T, E: Into<ShareError>>(
        &mut self,
        step: Step,
        what: &str,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, ShareError> {
        let pending = self.recorder.begin(step, what)?;
        let stage = match step {
            Step::Decode => &mut self.stages.decode,
            _ => &mut self.stages.encode,
        };
        pending.timed(work(), stage)
    }
}

/// Qt's `detach()`, recorded. Never stepped through: it also runs while the program exits.
pub(super) fn detach(recorder: &Recorder, segment: &mut dyn Segment) {
    let object = segment.describe_segment();
    recorder.around(Step::Detach, object, || {
        segment.detach();
    });
}

/// What a copy touches, for the journal: the segment's file or its System V id, and its size.
fn copy_object(access: &SegmentAccess<'_>) -> String {
    match access.path() {
        Some(path) => format!("{} bytes of {}", access.size(), path.display()),
        None => format!(
            "{} bytes of System V segment shmid {}",
            access.size(),
            access.generation()
        ),
    }
}
