//! End-to-end tests: every one runs the real `shmimage` binary in separate OS processes.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

// The boundaries need root and Linux's mount, unshare and setpriv.
#[cfg(target_os = "linux")]
mod boundaries;
// Under Wine, `check` runs on its own in scripts/test-windows.sh: beside the stress and kill
// tests, its dozens of processes made Wine fail to start processes (0xc0000142).
#[cfg(unix)]
mod check;
mod examples;
mod faults;
mod follow;
#[cfg(feature = "gui")]
mod gui;
#[cfg(feature = "gui")]
mod gui_lessons;
#[cfg(feature = "gui")]
mod gui_protocol;
mod hardening;
#[cfg(unix)] // needs sh (ulimit) and ImageMagick as the reference decoder
mod hostile;
mod journal;
mod layers;
mod lifetime;
#[cfg(any(target_os = "linux", windows))] // no macOS machine runs the tests
mod native_key;
mod protocol;
#[cfg(target_os = "linux")]
mod qt;
#[cfg(windows)] // Qt's example played by scripts/windows/qt_peer.c under Wine
mod qt_windows;
mod second_review;
mod segments;
mod stress;
mod sweep;
mod util;
