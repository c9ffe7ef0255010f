//! What the command line and the window both do with a protocol, written once: publishing an
//! image file, republishing it when it changes, playing an animation, and fetching into a file.

pub mod play;
pub mod publish;
pub mod watch;
