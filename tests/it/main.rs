//! End-to-end tests: every one runs the real `shmimage` binary in separate OS processes.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod check;
mod faults;
#[cfg(feature = "gui")]
mod gui;
mod hardening;
#[cfg(unix)] // needs sh (ulimit) and ImageMagick as the reference decoder
mod hostile;
mod lifetime;
#[cfg(target_os = "linux")]
mod qt;
mod segments;
mod share;
mod stress;
mod util;
