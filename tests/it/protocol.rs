//! Publishing in one process and fetching in another, as the two windows of the demo do.

use crate::util::{Publisher, Scratch, load, run_with_deadline, test_image};

#[test]
fn round_trip_between_two_processes_is_pixel_exact_raw() {
    round_trip("raw");
}

#[test]
fn round_trip_between_two_processes_is_pixel_exact_png() {
    round_trip("png");
}

fn round_trip(encoding: &str) {
    let scratch = Scratch::new(&format!("round-trip-{encoding}"));
    let original = test_image(97, 61, 3);
    let input = scratch.save("in.png", &original);
    let publisher = scratch.put(&input, &["--encoding", encoding]);
    assert!(
        publisher.first_line.contains("97x61"),
        "{}",
        publisher.first_line
    );
    assert!(
        publisher
            .first_line
            .contains(&format!("encoding={encoding}")),
        "{}",
        publisher.first_line
    );

    let output = scratch.path("out.png");
    let said = scratch.ok(&["get", output.to_str().unwrap()]);
    assert!(said.contains("saved 97x61"), "{said}");
    assert_eq!(load(&output), original);

    // A reader detaching does not end the share: the publisher is still attached.
    let again = scratch.path("again.bmp");
    scratch.ok(&["get", again.to_str().unwrap()]);
    assert_eq!(load(&again), original);
}

#[test]
fn a_second_publisher_replaces_the_image() {
    let scratch = Scratch::new("second-publisher");
    let first = scratch.save("first.png", &test_image(10, 10, 1));
    let second_image = test_image(12, 8, 2);
    let second = scratch.save("second.png", &second_image);
    let _one = scratch.put(&first, &[]);
    let two = scratch.put(&second, &[]);
    assert!(
        two.first_line.contains("generation=2"),
        "{}",
        two.first_line
    );
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(load(&out), second_image);
}

// Unix only: Windows has no SIGTERM, and a Ctrl+C event reaches only processes that share the
// sender's console. There `hold_ms_ends_the_share_by_itself` covers the clean stop.
#[cfg(unix)]
#[test]
fn a_publisher_that_stops_cleanly_leaves_nothing() {
    let scratch = Scratch::new("clean-stop");
    let input = scratch.save("in.png", &test_image(5, 5, 9));
    let publisher = scratch.put(&input, &[]);
    assert_eq!(scratch.segment_files().len(), 1);
    let status = publisher.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        scratch.segment_files().is_empty(),
        "{:?}",
        scratch.segment_files()
    );
    let err = scratch.fails(&["get", scratch.path("x.png").to_str().unwrap()]);
    assert!(err.contains("nothing is shared"), "{err}");
}

#[test]
fn hold_ms_ends_the_share_by_itself() {
    let scratch = Scratch::new("hold-ms");
    let input = scratch.save("in.png", &test_image(5, 5, 9));
    let publisher = scratch.put(&input, &["--hold-ms", "100"]);
    assert!(publisher.wait().success());
    assert!(scratch.segment_files().is_empty());
}

#[test]
fn get_without_a_publisher_says_nothing_is_shared() {
    let scratch = Scratch::new("nothing");
    let err = scratch.fails(&["get", scratch.path("out.png").to_str().unwrap()]);
    assert!(err.contains("nothing is shared under key"), "{err}");
}

#[test]
fn put_of_a_text_file_is_one_clear_error() {
    let scratch = Scratch::new("text-file");
    let path = scratch.path("notes.png");
    std::fs::write(&path, "not an image").unwrap();
    let err = scratch.fails(&["put", path.to_str().unwrap()]);
    assert!(err.contains("is not an image"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn hostile_keys_create_nothing_outside_the_segment_directory() {
    let scratch = Scratch::new("hostile");
    let input = scratch.save("in.png", &test_image(4, 4, 1));
    let long = "k".repeat(10_000);
    for key in [
        "../../etc/x",
        "/tmp/evil",
        "..",
        long.as_str(),
        "😀 emoji key",
        "C:\\Windows\\x",
    ] {
        let cmd = scratch.cmd_with_key(key, &["put", input.to_str().unwrap(), "--hold-ms", "0"]);
        let output = crate::util::run_with_deadline(cmd);
        assert!(
            output.status.success(),
            "{key:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // Only the segment directory and the input image exist in the scratch folder, and the
    // segment directory holds only plain files.
    let mut top: Vec<String> = std::fs::read_dir(scratch.tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["in.png", "segments"]);
    for entry in std::fs::read_dir(scratch.seg_dir()).unwrap().flatten() {
        assert!(entry.file_type().unwrap().is_file(), "{:?}", entry.path());
        assert!(entry.file_name().len() < 200, "{:?}", entry.path());
    }
}

#[test]
fn non_ascii_user_names_and_paths_work() {
    let scratch = Scratch::new("non-ascii");
    let home = scratch.path("Jürgen Ødegård 日本");
    std::fs::create_dir(&home).unwrap();
    let original = test_image(13, 7, 21);
    let input = home.join("bild ü.png");
    original.save(&input).unwrap();
    let segments = home.join("segments");
    let with_non_ascii_names = |args: &[&str]| {
        let mut cmd = scratch.cmd(args);
        // USERNAME names the Windows lock; the segment directory sits under a non-ASCII path.
        cmd.env("SHMIMAGE_DIR", &segments)
            .env("USERNAME", "Jürgen Ødegård");
        cmd
    };
    let _publisher = Publisher::start(
        with_non_ascii_names(&["put", input.to_str().unwrap()]),
        "ready",
    );
    let output = home.join("ausgabe ø.png");
    let out = run_with_deadline(with_non_ascii_names(&["get", output.to_str().unwrap()]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(load(&output), original);
}
