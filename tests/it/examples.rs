//! The article's two examples (`examples/writer.rs`, `examples/reader.rs`), run as a student runs
//! them: the writer in one process, the reader in another.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::util::{Publisher, Scratch, load, run_with_deadline, test_image};

/// An example's binary, which `cargo test` builds beside the test executables.
fn example(scratch: &Scratch, name: &str) -> Command {
    let dir = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("examples")))
        .unwrap_or_default();
    let path: PathBuf = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples (or `cargo build --examples`)",
        path.display()
    );
    let mut command = Command::new(path);
    command
        .env("SHMIMAGE_DIR", scratch.seg_dir())
        .current_dir(scratch.tmp.path());
    command
}

#[test]
fn the_articles_writer_and_reader_share_an_image_between_two_processes() {
    let scratch = Scratch::new("examples");
    let image = test_image(9, 7, 3);
    let input = scratch.save("in.png", &image);
    let mut writer = example(&scratch, "writer");
    writer.arg(&input).stdin(Stdio::piped());
    let mut writer = Publisher::start(writer, "press Enter to detach");
    assert_eq!(scratch.segment_files().len(), 1, "shared in SHMIMAGE_DIR");
    let said = run_with_deadline(example(&scratch, "reader"));
    let out = String::from_utf8_lossy(&said.stdout);
    assert!(said.status.success(), "{said:?}");
    let steps: Vec<&str> = out
        .lines()
        .map(|l| l.split('(').next().unwrap_or(l))
        .collect();
    assert_eq!(
        steps[..6],
        ["setKey", "attach", "lock", "memcpy", "unlock", "detach"],
        "{out}"
    );
    assert_eq!(load(&scratch.path("received.png")), image);
    // Enter: the writer detaches, and with it goes the segment.
    drop(writer.child.stdin.take());
    assert!(writer.wait().success());
    assert!(scratch.segment_files().is_empty());
}
