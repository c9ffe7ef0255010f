//! Follow in the window: a [`protocol::Follower`] for the key and mode shown. Its thread wakes
//! when a new generation is published, fetches it then and there (no job, no window frame in
//! between), and hands the picture to the window, which shows it at its next frame. A window
//! that cannot keep up skips to the newest generation instead of queueing the ones in between:
//! the follower reports only the newest, once its fetch is done. Follow's fetches are not
//! stepped through (step-through is for the loads a person starts); they are journaled.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ShmImageApp;
use crate::gui::worker::{self, Finished, Outcome};
use crate::protocol::{self, Follower, Mode};

/// The follower of one key and mode.
pub(super) struct Following {
    /// What it follows (`ShmImageApp::source`).
    source: (String, Mode, String, String),
    follower: Option<Follower>,
    /// The generation on screen (0: none), so the follower does not fetch it again (the
    /// window's own publish, a click's fetch).
    pub(super) shown: Arc<AtomicU64>,
}

impl ShmImageApp {
    /// Called every frame: starts, restarts or stops the follower to match Follow, the key and
    /// the mode.
    pub(super) fn keep_following(&mut self) {
        if !self.sharing.follow {
            self.sharing.following = None;
            return;
        }
        let source = self.source();
        let current = self
            .sharing
            .following
            .as_ref()
            .is_some_and(|f| f.source == source);
        if !current {
            self.sharing.following = Some(self.start_following());
        }
        if let Some(following) = &self.sharing.following {
            following.shown.store(
                self.sharing.shown_generation.unwrap_or(0),
                Ordering::Relaxed,
            );
        }
    }

    fn start_following(&mut self) -> Following {
        let shown = Arc::new(AtomicU64::new(0));
        let tag = self.tag();
        let follower = self.endpoint().ok().and_then(|endpoint| {
            let (outcomes, repaint) = (self.worker.outcomes(), self.ctx.clone());
            let (shown, max_side) = (Arc::clone(&shown), self.max_texture_side());
            let fetching = endpoint.clone();
            protocol::follow(&endpoint, move |followed| {
                let outcome = match followed {
                    Ok(generation) if shown.load(Ordering::Relaxed) == generation => return,
                    // A fetch's panic is this frame's status line; Follow goes on.
                    Ok(_) => crate::panics::catch(|| {
                        protocol::fetch_retrying(|| {
                            match worker::fetch(fetching.clone(), max_side, true) {
                                Outcome::FetchFailed(error) => Err(error),
                                outcome => Ok(outcome),
                            }
                        })
                        .unwrap_or_else(Outcome::FetchFailed)
                    })
                    .map(|outcome| Outcome::Followed(Box::new(outcome)))
                    .unwrap_or_else(Outcome::JobFailed),
                    Err(stopped) => Outcome::JobFailed(stopped),
                };
                let _ = outcomes.send(Finished {
                    tag: tag.clone(),
                    outcome,
                });
                repaint.request_repaint();
            })
            .map_err(|err| log::warn!("{err}"))
            .ok()
        });
        Following {
            source: self.source(),
            follower,
            shown,
        }
    }

    /// Test seam: how many times Follow has looked up the newest generation (`None` while
    /// Follow is off).
    pub fn follow_probes(&self) -> Option<usize> {
        self.sharing
            .following
            .as_ref()
            .and_then(|f| f.follower.as_ref())
            .map(Follower::probes)
    }
}
