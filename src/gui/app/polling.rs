//! The inspector's and the Protocol panel's looks at the key, each on a thread of its own that
//! looks every so often and wakes the window only when what it sees has changed. An open panel
//! then costs no frames while nothing happens: when the window drew a frame for every look, the
//! Protocol panel's ten a second used 45% of a core under Mesa's software renderer.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use super::ShmImageApp;
use crate::gui::worker::{Finished, JobTag, Outcome};
use crate::protocol::{self, Endpoint, Mode};

/// One panel's poller; dropping it ends its thread, at once or after the look it is taking.
pub(super) struct Poller {
    /// What it looks at (`ShmImageApp::source`): a new key, mode or native key needs a new one.
    source: (String, Mode, String, String),
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
    outcome: fn(T) -> Outcome,
}

impl<T: PartialEq + Clone + Send + 'static> Plan<T> {
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
                    if !send((self.outcome)(seen)) {
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
fn start<T: PartialEq + Clone + Send + 'static>(
    source: (String, Mode, String, String),
    plan: Plan<T>,
) -> Poller {
    let (wake, woken) = mpsc::channel();
    let started = std::thread::Builder::new()
        .name("shmimage-poll".to_owned())
        .spawn(move || plan.run(&woken));
    if let Err(err) = started {
        log::warn!("cannot start a panel's poller: {err}");
    }
    Poller { source, wake }
}

/// The inspector's rows, in the words the window shows.
fn inspect(endpoint: &Endpoint) -> Result<protocol::Inspection, String> {
    protocol::inspect(endpoint).map_err(|err| err.to_string())
}

impl ShmImageApp {
    /// Called every frame: starts, restarts or stops the pollers of the inspector and the
    /// Protocol panel to match what is open and what is shown.
    pub(super) fn keep_polling(&mut self) {
        let source = self.source();
        if !self.inspector_open {
            self.inspecting = None;
        } else if self.inspecting.as_ref().is_none_or(|p| p.source != source) {
            let plan = self.plan(super::INSPECT_POLL, inspect, Err, Outcome::Inspected);
            self.inspecting = Some(start(source.clone(), plan));
        }
        if !self.protocol_open {
            self.journaling = None;
        } else if self.journaling.as_ref().is_none_or(|p| p.source != source) {
            let plan = self.plan(
                super::JOURNAL_POLL,
                protocol::journal,
                |_| Vec::new(),
                Outcome::Journal,
            );
            self.journaling = Some(start(source, plan));
        }
    }

    /// A plan for a poller of what is shown now, with a tag of its own.
    fn plan<T>(
        &mut self,
        every: Duration,
        look: fn(&Endpoint) -> T,
        unavailable: fn(String) -> T,
        outcome: fn(T) -> Outcome,
    ) -> Plan<T> {
        Plan {
            tag: self.tag(),
            endpoint: self.endpoint(),
            every,
            outcomes: self.worker.outcomes(),
            repaint: self.ctx.clone(),
            look,
            unavailable,
            outcome,
        }
    }

    /// What the inspector and the Protocol panel show is out of date: they look again now.
    pub(super) fn look_again_now(&self) {
        for poller in [&self.inspecting, &self.journaling].into_iter().flatten() {
            poller.look_again_now();
        }
    }
}
