//! Faults that tests and `shmimage check` inject into a real process through its environment:
//! a writer that stops mid-copy holding the lock (to be killed there), one that stops between
//! creating and filling, one that damages what it wrote, and one that keeps leftovers.

use std::time::Duration;

use crate::ipc::segment::SegmentAccess;

/// Test hook : when set to a number of milliseconds, a publish stops halfway
/// through the copy, says "paused mid-copy" in the log, and sleeps that long holding the lock, so
/// a test can kill it there. A Qt-format fetch pauses the same way after its copy.
pub const PAUSE_MID_COPY_ENV: &str = "SHMIMAGE_TEST_PAUSE_MID_COPY_MS";

/// Test hook : when set to a number of milliseconds, a native publish stops
/// between creating its segment file and reserving its space, says "paused after create" in the
/// log, and sleeps that long.
pub const PAUSE_AFTER_CREATE_ENV: &str = "SHMIMAGE_TEST_PAUSE_AFTER_CREATE_MS";

/// Test hook : when set, a native publish damages its own segment after
/// committing it (a buggy writer), so `shmimage check` can show that readers refuse it. Writing
/// into the file from outside is not possible on Windows while its writer has it mapped.
pub const DAMAGE_AFTER_PUBLISH_ENV: &str = "SHMIMAGE_TEST_DAMAGE_AFTER_PUBLISH";

/// Test switch : when set, leftovers of dead processes are never removed,
/// breaking that one guarantee on purpose so a test can watch `shmimage check` catch it.
pub const KEEP_LEFTOVERS_ENV: &str = "SHMIMAGE_TEST_KEEP_LEFTOVERS";

/// Test switch : when set, lesson 2's writer and readers skip the lock they
/// would take, breaking it on purpose so a test can watch the lesson's verdict change.
pub const BREAK_LOCK_ENV: &str = "SHMIMAGE_TEST_BREAK_LOCK";

/// A number of milliseconds from the environment variable `variable`, if it holds one.
pub(super) fn env_millis(variable: &str) -> Option<Duration> {
    std::env::var(variable)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis)
}

/// Which faults this process injects; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// See [`PAUSE_MID_COPY_ENV`].
    pub pause_mid_copy: Option<Duration>,
    /// See [`PAUSE_AFTER_CREATE_ENV`].
    pub pause_after_create: Option<Duration>,
    /// See [`KEEP_LEFTOVERS_ENV`].
    pub keep_leftovers: bool,
    /// See [`DAMAGE_AFTER_PUBLISH_ENV`].
    pub damage_after_publish: bool,
    /// See [`BREAK_LOCK_ENV`].
    pub break_lock: bool,
}

impl Faults {
    /// The faults this process's environment asks for.
    pub fn from_env() -> Self {
        Self {
            pause_mid_copy: env_millis(PAUSE_MID_COPY_ENV),
            pause_after_create: env_millis(PAUSE_AFTER_CREATE_ENV),
            keep_leftovers: std::env::var_os(KEEP_LEFTOVERS_ENV).is_some(),
            damage_after_publish: std::env::var_os(DAMAGE_AFTER_PUBLISH_ENV).is_some(),
            break_lock: std::env::var_os(BREAK_LOCK_ENV).is_some(),
        }
    }

    /// How many bytes a copy takes at a time: with a pause mid-copy, half of them, so that
    /// there is a middle to stop at.
    pub(super) fn chunk_len(&self, total: usize, usual: usize) -> usize {
        if self.pause_mid_copy.is_some() {
            total.div_ceil(2).max(1)
        } else {
            usual
        }
    }

    /// Called before each chunk of a copy: pauses before the second one, if asked to.
    pub(super) fn before_chunk(&self, index: usize) {
        if let Some(pause) = self.pause_mid_copy.filter(|_| index == 1) {
            log::warn!("paused mid-copy");
            std::thread::sleep(pause);
        }
    }

    /// Called once a reader's copy is in its hands, still holding the lock (Qt's modes).
    pub(super) fn after_copy(&self) {
        if let Some(pause) = self.pause_mid_copy {
            log::warn!("paused mid-copy");
            crate::ipc::segment::interrupt::sleep_unless_exiting(pause);
        }
    }

    /// A buggy writer: flips the byte at `at` after everything was written and committed.
    pub(super) fn after_commit(&self, access: &mut SegmentAccess<'_>, at: usize, byte: u8) {
        if self.damage_after_publish {
            let _ = access.write(at, &[!byte]);
        }
    }
}
