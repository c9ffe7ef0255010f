//! How long a lock wait may go on. Every lock wait (the key lock, Qt 5's System V semaphore,
//! Qt 6's POSIX semaphore) gives up after its timeout, unless the [`Patience`] it was given says
//! otherwise: keep waiting (the holder is being stepped through in a classroom), or stop now
//! (the user pressed Cancel).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ShmError;

/// How often a wait asks its patience: often enough for Cancel to feel immediate, rarely enough
/// that asking (which may read a few small files) costs nothing.
const ASK_EVERY: Duration = Duration::from_millis(100);

/// What a wait should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Give up at the timeout, as usual.
    AsUsual,
    /// Keep waiting past the timeout (asked again later).
    KeepWaiting,
    /// Stop waiting now: [`ShmError::Cancelled`].
    Cancel,
}

/// Asked now and then while a lock wait goes on.
pub trait Patience: Send + Sync {
    /// `waited` so far; `holder` is the process that holds the lock, where the OS records it.
    fn ask(&self, waited: Duration, holder: Option<u32>) -> Verdict;
}

/// One lock wait under way: its start, its timeout, and when the patience was last asked.
pub(crate) struct Waiting<'a> {
    started: Instant,
    timeout: Duration,
    patience: Option<&'a Arc<dyn Patience>>,
    next_ask: Instant,
    /// Pushed forward while the patience says to keep waiting.
    deadline: Instant,
}

impl<'a> Waiting<'a> {
    pub(crate) fn new(timeout: Duration, patience: Option<&'a Arc<dyn Patience>>) -> Self {
        let started = Instant::now();
        Self {
            started,
            timeout,
            patience,
            next_ask: started,
            deadline: started + timeout,
        }
    }

    /// After a failed attempt: `Ok(true)` to try again, `Ok(false)` once the wait has timed
    /// out, `Err(Cancelled)` if the user stopped it. `holder` is asked for only when needed.
    pub(crate) fn go_on(&mut self, holder: impl FnOnce() -> Option<u32>) -> Result<bool, ShmError> {
        let now = Instant::now();
        if let Some(patience) = self.patience
            && now >= self.next_ask
        {
            self.next_ask = now + ASK_EVERY;
            match patience.ask(now - self.started, holder()) {
                Verdict::AsUsual => {}
                Verdict::KeepWaiting => self.deadline = self.deadline.max(now + self.timeout),
                Verdict::Cancel => return Err(ShmError::Cancelled),
            }
        }
        Ok(now < self.deadline)
    }

    /// How long one blocking attempt may take before the patience is asked again (Qt 5's
    /// semaphore waits in the kernel; the others poll).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn slice(&self) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if self.patience.is_some() {
            left.min(ASK_EVERY)
        } else {
            left
        }
    }

    pub(crate) fn waited(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Always(Verdict);
    impl Patience for Always {
        fn ask(&self, _waited: Duration, _holder: Option<u32>) -> Verdict {
            self.0
        }
    }

    #[test]
    fn a_wait_times_out_as_usual_keeps_waiting_or_stops_as_told() {
        let mut plain = Waiting::new(Duration::ZERO, None);
        assert!(!plain.go_on(|| None).unwrap());

        let keep: Arc<dyn Patience> = Arc::new(Always(Verdict::KeepWaiting));
        let mut patient = Waiting::new(Duration::from_millis(1), Some(&keep));
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            patient.go_on(|| None).unwrap(),
            "kept waiting past the timeout"
        );

        let cancel: Arc<dyn Patience> = Arc::new(Always(Verdict::Cancel));
        let mut cancelled = Waiting::new(Duration::from_secs(60), Some(&cancel));
        assert!(matches!(cancelled.go_on(|| None), Err(ShmError::Cancelled)));
    }
}
