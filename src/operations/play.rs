//! Plays an animation through shared memory: each frame is published at its delay, replacing
//! the one before, looping until stopped (`put anim.gif`, and the window's "Load image from
//! file" on an animated GIF, APNG or WebP). A following window plays it; a window that loads
//! once shows the frame current then.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use crate::codec::Encoding;
use crate::codec::animation::{Animation, AnimationFrame};
use crate::protocol::{self, Endpoint, Publication, ShareError};

/// Publishes frame after frame, calling `on_frame` with each frame and its publication once it
/// is readable (the callback owns the publication: it withdraws the one before), then
/// `wait_until(due)`, which returns at the frame's end (`false`: go on) or earlier to stop
/// (`true`).
pub fn play(
    endpoint: &Endpoint,
    animation: &mut Animation,
    encoding: Encoding,
    mut on_frame: impl FnMut(AnimationFrame, Publication),
    mut wait_until: impl FnMut(Instant) -> bool,
) -> Result<(), ShareError> {
    loop {
        let frame = animation.next_frame()?;
        let due = Instant::now() + frame.delay;
        let publication = protocol::publish(endpoint, &frame.image, encoding)?;
        on_frame(frame, publication);
        if wait_until(due) {
            return Ok(());
        }
    }
}

/// Waits on `stop` until `due`: `true` if it received something or was dropped.
pub fn stop_before<T>(stop: &Receiver<T>, due: Instant) -> bool {
    !matches!(
        stop.recv_timeout(due.saturating_duration_since(Instant::now())),
        Err(RecvTimeoutError::Timeout)
    )
}

/// "frame 3 of 12" (from 1), or "frame 3" while the count is not known yet (the first loop).
pub fn frame_words(frame: &AnimationFrame) -> String {
    match frame.count {
        Some(count) => format!("frame {} of {count}", frame.index + 1),
        None => format!("frame {}", frame.index + 1),
    }
}
