//! A panel's look at the key, on a thread of its own that looks every so often and wakes the
//! window only when what it sees has changed, so that an open panel costs no frames while
//! nothing happens.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use std::any::Any;

use crate::gui::app::{ShmImageApp, Source};
use crate::gui::worker::{Finished, JobTag, Outcome};
use crate::protocol::Endpoint;

/// One panel's poller; dropping it ends its thread, at once or after the look it is taking.
pub(crate) struct Poller {
    /// What it looks at: a new key, mode or native key needs a new one.
    source: Source,
    wake: mpsc::Sender<()>,
}

impl Poller {
    /// Looks now: the window forgot what the panel showed.
    pub(super) fn look_again_now(&self) {
        let _ = self.wake.send(());
    }
}

/// What a poller needs from the window.
struct Plan<T> {
    tag: JobTag,
    endpoint: Result<Endpoint, String>,
    every: Duration,
    outcomes: mpsc::Sender<Finished>,
    repaint: egui::Context,
    look: fn(&Endpoint) -> T,
    /// What to show when there is no endpoint to look at (the sentence says why).
    unavailable: fn(String) -> T,
    /// The panel the looks are for.
    panel: &'static str,
}

impl<T: PartialEq + Clone + Send + Any> Plan<T> {
    fn run(self, woken: &mpsc::Receiver<()>) {
        let send = |outcome: Outcome| {
            let sent = self.outcomes.send(Finished {
                tag: self.tag.clone(),
                outcome,
            });
            self.repaint.request_repaint();
            sent.is_ok()
        };
        let mut last: Option<T> = None;
        loop {
            let look = || match &self.endpoint {
                Ok(endpoint) => (self.look)(endpoint),
                Err(why) => (self.unavailable)(why.clone()),
            };
            match crate::panics::catch(look) {
                Err(said) => {
                    send(Outcome::JobFailed(said));
                    return;
                }
                Ok(seen) if last.as_ref() != Some(&seen) => {
                    last = Some(seen.clone());
                    let outcome = Outcome::Seen {
                        panel: self.panel,
                        seen: Box::new(seen),
                    };
                    if !send(outcome) {
                        return; // the window is gone
                    }
                }
                Ok(_) => {}
            }
            match woken.recv_timeout(self.every) {
                // The window forgot what it was shown: send the next look even if it is the same.
                Ok(()) => last = None,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// Starts `plan` on a thread of its own.
fn start<T: PartialEq + Clone + Send + Any>(source: Source, plan: Plan<T>) -> Poller {
    let (wake, woken) = mpsc::channel();
    let started = std::thread::Builder::new()
        .name("shmimage-poll".to_owned())
        .spawn(move || plan.run(&woken));
    if let Err(err) = started {
        log::warn!("cannot start a panel's poller: {err}");
    }
    Poller { source, wake }
}

/// Called every frame by a panel with its poller: keeps it while the panel is open and the
/// window shows what it looks at, starts a new one for what is shown now, or stops it.
pub(super) fn keep<T: PartialEq + Clone + Send + Any>(
    poller: Option<Poller>,
    open: bool,
    app: &ShmImageApp,
    panel: &'static str,
    every: Duration,
    look: fn(&Endpoint) -> T,
    unavailable: fn(String) -> T,
) -> Option<Poller> {
    if !open {
        return None;
    }
    let source = app.source();
    if let Some(poller) = poller.filter(|p| p.source == source) {
        return Some(poller);
    }
    let plan = Plan {
        tag: app.tag(),
        endpoint: app.endpoint(),
        every,
        outcomes: app.outcomes(),
        repaint: app.ctx().clone(),
        look,
        unavailable,
        panel,
    };
    Some(start(source, plan))
}
