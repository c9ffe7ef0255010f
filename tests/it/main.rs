//! End-to-end tests: every one runs the real `shmimage` binary in separate OS processes.

#[cfg(feature = "gui")]
mod gui;
mod lifetime;
mod share;
mod stress;
mod util;
