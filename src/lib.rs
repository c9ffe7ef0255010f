//! shmimage: share an image between processes through named shared memory, the way Qt's
//! shared-memory example does, but with a lifetime that survives crashes on every OS.
//!
//! Layers, bottom up: [`shm`] (this project's crash-safe segments and their lock), `qt` (Qt's own
//! System V and POSIX objects, Linux), [`journal`] (every process's protocol steps, for `trace`
//! and the Protocol panel), [`codec`] (the segment's header and the image
//! encodings), [`share`] (one protocol per mode: publish, fetch, inspect; the only layer the CLI
//! and the window use), [`cli`], and the window in `gui` (feature `gui`).

// The window's translations (locales/app.yml), for `t!` anywhere in the crate.
#[cfg(feature = "gui")]
rust_i18n::i18n!("locales", fallback = "en");

pub mod bench;
pub mod check;
pub mod cli;
pub mod codec;
#[cfg(feature = "gui")]
pub mod gui;
pub mod journal;
pub mod output;
pub mod panics;
pub mod platform;
pub mod play;
#[cfg(target_os = "linux")]
pub mod qt;
pub mod share;
pub mod shm;
pub mod stream;
pub mod trace;
pub mod watch;
// The only module allowed to use `unsafe`: mapping, copying across a mapping, and OS calls.
mod sys;

#[cfg(feature = "gui")]
pub use sys::hide_own_console;
