//! Ctrl-C and SIGTERM against locks that have no undo. Qt 6's POSIX semaphore is not given back
//! by the OS when its holder dies, so a process must not end while it holds one: a signal
//! handler calls [`exit_when_released`], which ends the process at once if it holds none, and
//! otherwise as soon as the last one is given back (a copy under way finishes first).
//! The other locks (file locks, System V with `SEM_UNDO`) are released by the OS and need none
//! of this.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static HOLDING: AtomicUsize = AtomicUsize::new(0);
/// The exit status a signal asked for, or -1.
static EXIT_REQUESTED: AtomicI32 = AtomicI32::new(-1);

/// For a Ctrl-C or SIGTERM handler: exits with `code` now, or when this process gives back the
/// last lock without undo that it holds.
pub fn exit_when_released(code: i32) {
    EXIT_REQUESTED.store(code, Ordering::SeqCst);
    if HOLDING.load(Ordering::SeqCst) == 0 {
        std::process::exit(code);
    }
}

pub(crate) fn exit_requested() -> bool {
    EXIT_REQUESTED.load(Ordering::SeqCst) >= 0
}

/// Counted before the lock is taken, so that a signal in between waits for the release.
// Only Qt 6 mode (Linux) has a lock without undo; elsewhere nothing takes one.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn holding_begins() {
    HOLDING.fetch_add(1, Ordering::SeqCst);
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn holding_ends() {
    if HOLDING.fetch_sub(1, Ordering::SeqCst) == 1 && exit_requested() {
        std::process::exit(EXIT_REQUESTED.load(Ordering::SeqCst));
    }
}

/// Sleeps `pause` (a test hook's pause while holding a lock), cut short by an exit request.
pub fn sleep_unless_exiting(pause: Duration) {
    let until = Instant::now() + pause;
    while Instant::now() < until && !exit_requested() {
        std::thread::sleep(Duration::from_millis(10));
    }
}
