//! shmimage: share an image between processes through named shared memory, the way Qt's
//! shared-memory example does, but with a lifetime that survives crashes on every OS.
//!
//! Layers, bottom up; each uses only the ones below it:
//! - [`ipc`]: the OS calls, this project's crash-proof segments and Qt's own objects;
//! - [`protocol`]: publish and fetch, step by step, one protocol per [`protocol::Mode`], and
//!   the journal that records every step;
//! - [`codec`]: images in and out of bytes (beside the IPC layer, never using it);
//! - [`operations`]: what the command line and the window both do with a protocol;
//! - [`commands`] and the window in `gui` (feature `gui`).
//!
//! Under all of them: [`limits`], [`platform`], [`panics`], [`output`], [`child`] and the safe
//! way to open a file.
//!
//! The article's two halves, as code to run, are `examples/writer.rs` and `examples/reader.rs`.

// The translations (locales/app.yml), for `t!` anywhere in the crate: the window's, and the
// lessons' handout, which the headless build prints too.
rust_i18n::i18n!("locales", fallback = "en");

pub mod child;
pub mod codec;
pub mod commands;
#[cfg(feature = "gui")]
pub mod gui;
pub mod ipc;
pub mod limits;
pub mod operations;
pub mod output;
pub mod panics;
pub mod platform;
pub mod protocol;
pub(crate) mod safe_fs;
pub mod sentence;

pub use ipc::attach_parent_console;
