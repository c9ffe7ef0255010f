//! End-to-end tests: every one runs the real `shmimage` binary in separate OS processes.

mod lifetime;
mod share;
mod stress;
mod util;
