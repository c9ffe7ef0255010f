//! The window's hand in its own protocol steps: step-through (the worker stops before each step
//! until "Next step"), Cancel (a paused step or a lock wait gives up, releasing everything), and
//! the sentence a patient lock wait reports. The worker blocks here; the UI thread only flips
//! flags and reads them.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::protocol::{Observer, Step};

#[derive(Default)]
struct State {
    enabled: bool,
    /// The step the worker is waiting before, with its Qt call.
    paused_before: Option<(Step, &'static str)>,
    go: bool,
    cancel: bool,
    waiting: Option<String>,
}

/// Shared by the window and its worker (as the endpoint's [`Observer`]).
#[derive(Default)]
pub struct StepControl {
    state: Mutex<State>,
    changed: Condvar,
    repaint: Mutex<Option<egui::Context>>,
}

impl std::fmt::Debug for StepControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StepControl")
    }
}

impl StepControl {
    pub fn new(repaint: egui::Context) -> Self {
        Self {
            repaint: Mutex::new(Some(repaint)),
            ..Self::default()
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.changed.notify_all();
        if let Some(ctx) = &*self
            .repaint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            ctx.request_repaint();
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.state().enabled
    }

    /// Turning step-through off lets a paused step go on.
    pub fn set_enabled(&self, enabled: bool) {
        let mut state = self.state();
        state.enabled = enabled;
        if !enabled {
            state.go = true;
        }
        drop(state);
        self.changed();
    }

    /// "Next step": the paused step goes on.
    pub fn next(&self) {
        self.state().go = true;
        self.changed();
    }

    /// Cancel: a paused step, or a lock wait, gives up; the job then releases what it holds.
    pub fn cancel(&self) {
        self.state().cancel = true;
        self.changed();
    }

    /// A new job starts with nothing cancelled.
    pub fn start_job(&self) {
        let mut state = self.state();
        state.cancel = false;
        state.waiting = None;
    }

    pub fn paused_before(&self) -> Option<(Step, &'static str)> {
        self.state().paused_before
    }

    pub fn waiting(&self) -> Option<String> {
        self.state().waiting.clone()
    }
}

impl Observer for StepControl {
    fn before_step(&self, step: Step, qt_call: &'static str) -> bool {
        let mut state = self.state();
        if !state.enabled || state.cancel {
            return !state.cancel;
        }
        state.paused_before = Some((step, qt_call));
        state.go = false;
        drop(state);
        self.changed();
        let mut state = self.state();
        while !state.go && !state.cancel {
            // Woken by every change; the timeout only guards against a lost wake-up.
            state = self
                .changed
                .wait_timeout(state, Duration::from_millis(200))
                .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard);
        }
        let go_on = !state.cancel;
        state.paused_before = None;
        state.go = false;
        drop(state);
        self.changed();
        go_on
    }

    fn waiting(&self, why: Option<String>) {
        let mut state = self.state();
        if state.waiting != why {
            state.waiting = why;
            drop(state);
            self.changed();
        }
    }

    fn cancelled(&self) -> bool {
        self.state().cancel
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_paused_step_waits_for_next_and_a_cancel_stops_it() {
        let control = Arc::new(StepControl::default());
        assert!(control.before_step(Step::Lock, "lock()"), "off: no pause");
        control.set_enabled(true);
        let worker = {
            let control = Arc::clone(&control);
            std::thread::spawn(move || control.before_step(Step::Lock, "lock()"))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while control.paused_before().is_none() {
            assert!(std::time::Instant::now() < deadline, "never paused");
            std::thread::sleep(Duration::from_millis(1));
        }
        control.next();
        assert!(worker.join().unwrap());

        let worker = {
            let control = Arc::clone(&control);
            std::thread::spawn(move || control.before_step(Step::Unlock, "unlock()"))
        };
        while control.paused_before().is_none() {
            assert!(std::time::Instant::now() < deadline, "never paused");
            std::thread::sleep(Duration::from_millis(1));
        }
        control.cancel();
        assert!(!worker.join().unwrap());
        assert!(control.cancelled());
        control.start_job();
        assert!(!control.cancelled());
    }
}
