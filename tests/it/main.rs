//! End-to-end tests: every one runs the real `shmimage` binary in separate OS processes.

mod lifetime;
mod share;
mod stress;
#[cfg(feature = "gui")]
mod gui;
mod util;
