//! shmimage: share an image between processes through named shared memory, the way Qt's
//! shared-memory example does, but with a lifetime that survives crashes on every OS.
//!
//! Layers, bottom up: [`shm`] (segments and their lock), [`codec`] (the segment's header and the
//! image encodings), [`share`] (publish and fetch, used by the CLI and the window), [`cli`], and
//! the window in `gui` (feature `gui`).

pub mod bench;
pub mod cli;
pub mod codec;
#[cfg(feature = "gui")]
pub mod gui;
pub mod share;
pub mod shm;
// The only module allowed to use `unsafe`: mapping, copying across a mapping, and OS calls.
mod sys;
