//! The IPC layer: named shared memory and its lock, with no image in sight.
//!
//! - `sys`: the OS calls, and the project's only `unsafe` code;
//! - [`segment`]: this project's crash-proof segments, whose lifetime is the same on every OS;
//! - [`probe`]: what `check` measures of the OS's limits, with throw-away objects;
//! - [`qt`]: Qt's own objects (System V and POSIX on Linux and macOS, a file mapping and a
//!   semaphore on Windows), named and used as Qt does.

pub mod probe;
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
pub mod qt;
pub mod segment;
// The only module allowed to use `unsafe`: mapping, copying across a mapping, and OS calls.
pub(crate) mod sys;

pub use sys::attach_parent_console;
