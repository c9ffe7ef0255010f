//! An animation loaded in the window: a thread of its own opens it, publishes each frame at its
//! delay (`crate::operations::play`) and hands each frame, with its publication, to the window, which shows
//! it and withdraws the frame before, as for any load. A new load, Stop sharing or closing the
//! window stops it; a frame it published after that is withdrawn, never shown.

use std::path::PathBuf;
use std::sync::mpsc::{Sender, channel};

use super::ShmImageApp;
use crate::codec::animation::Animation;
use crate::gui::language::tr;
use crate::gui::pixels::display_image;
use crate::gui::worker::{Finished, Outcome, Published};

/// The player of the animation this window shares; dropping it stops it.
pub(super) struct Playing {
    pub(super) id: u64,
    _stop: Sender<()>,
}

impl ShmImageApp {
    /// Plays the animation at `path` (the load found it animated); the first frame ends the
    /// load.
    pub(super) fn start_playing(&mut self, path: PathBuf) {
        let endpoint = match self.endpoint() {
            Ok(endpoint) => endpoint,
            Err(err) => return self.fail(err),
        };
        let (stop, stopped) = channel::<()>();
        let tag = self.tag();
        let (outcomes, repaint) = (self.worker.outcomes(), self.ctx.clone());
        let (encoding, max_side, id) = (self.encoding, self.max_texture_side(), tag.id);
        let spawned = std::thread::Builder::new()
            .name("shmimage-animation".to_owned())
            .spawn(move || {
                let send = |outcome| {
                    let _ = outcomes.send(Finished {
                        tag: tag.clone(),
                        outcome,
                    });
                    repaint.request_repaint();
                };
                // A panic anywhere in the player is a status line, never a silent stop.
                let played = crate::panics::catch(|| {
                    play(&endpoint, &path, encoding, max_side, id, &stopped, &send);
                });
                if let Err(said) = played {
                    send(Outcome::JobFailed(said));
                }
            });
        match spawned {
            Ok(_) => self.sharing.playing = Some(Playing { id, _stop: stop }),
            Err(err) => self.fail(err.to_string()),
        }
    }
}

/// Opens the animation at `path` and publishes its frames at their delays until `stopped`,
/// handing each to `send`; runs on the player's thread.
fn play(
    endpoint: &crate::protocol::Endpoint,
    path: &std::path::Path,
    encoding: crate::codec::Encoding,
    max_side: usize,
    id: u64,
    stopped: &std::sync::mpsc::Receiver<()>,
    send: &dyn Fn(Outcome),
) {
    let mut animation = match Animation::open(path) {
        Ok(Some(animation)) => animation,
        // Rewritten as a still image since the load looked at it.
        Ok(None) => {
            return send(Outcome::JobFailed(
                "the file changed while it was being opened; load it again".to_owned(),
            ));
        }
        Err(error) => {
            return send(Outcome::LoadFailed {
                error: error.into(),
            });
        }
    };
    let played = crate::operations::play::play(
        endpoint,
        &mut animation,
        encoding,
        |frame, publication| {
            let index = frame.index + 1;
            let words = match frame.count {
                Some(count) => tr!(
                    "animation, frame %{index} of %{count}",
                    index = index,
                    count = count
                ),
                None => tr!("animation, frame %{index}", index = index),
            };
            let elapsed = publication.stages.total;
            send(Outcome::Published(Published {
                image: display_image(frame.image, max_side),
                publication,
                path: path.to_path_buf(),
                note: Some(words),
                elapsed,
                frame_of: Some(id),
            }));
        },
        |due| crate::operations::play::stop_before(stopped, due),
    );
    if let Err(error) = played {
        send(Outcome::LoadFailed { error });
    }
}
