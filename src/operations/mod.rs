//! What the command line and the window both do with a protocol, written once: playing an
//! animation and republishing a file when it changes.

pub mod play;
pub mod watch;
