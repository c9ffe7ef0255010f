//! The lifetime contract: crashes leave nothing that blocks the next user, and nobody waits forever.

use crate::util::{Publisher, Scratch, load, test_image};

#[test]
fn a_killed_publisher_leaves_nothing_that_blocks_the_next_one() {
    let scratch = Scratch::new("killed-publisher");
    let input = scratch.save("in.png", &test_image(20, 20, 4));
    scratch.put(&input, &[]).kill_hard();
    // What Qt's example fails on Linux: the dead writer's segment is still on disk...
    assert_eq!(scratch.segment_files().len(), 1);
    // ...but it is not attachable, and the next reader removes it.
    let err = scratch.fails(&["get", scratch.path("out.png").to_str().unwrap()]);
    assert!(err.contains("nothing is shared"), "{err}");
    assert!(scratch.segment_files().is_empty());
    // And a new publisher works with no manual cleanup.
    let next = scratch.save("next.png", &test_image(21, 9, 5));
    let _publisher = scratch.put(&next, &[]);
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(load(&out), test_image(21, 9, 5));
}

#[test]
fn info_tells_live_from_leftover_and_clean_removes_only_leftovers() {
    let scratch = Scratch::new("info-clean");
    let input = scratch.save("in.png", &test_image(6, 7, 1));
    scratch.put(&input, &[]).kill_hard();
    let live_input = scratch.save("live.png", &test_image(8, 3, 2));
    let live = scratch.cmd_with_key("other-key", &["put", live_input.to_str().unwrap()]);
    let _live = Publisher::start(live, "ready");

    let info = scratch.ok(&["info"]);
    assert!(info.contains("leftover of a dead process"), "{info}");
    assert!(info.contains("dimensions: 6x7"), "{info}");

    let cleaned = scratch.ok(&["clean"]);
    assert_eq!(
        cleaned
            .lines()
            .filter(|l| l.starts_with("removed "))
            .count(),
        1,
        "{cleaned}"
    );
    assert_eq!(
        scratch.segment_files().len(),
        1,
        "the live publisher's segment stays"
    );
    let info = scratch.ok(&["info"]);
    assert!(info.contains("segments:   none"), "{info}");
    assert!(scratch.ok(&["clean"]).contains("nothing to clean"));
}

#[test]
fn lock_is_released_when_its_holder_is_killed() {
    let scratch = Scratch::new("lock-holder-killed");
    let input = scratch.save("in.png", &test_image(64, 64, 7));
    // The hook makes the publisher stop mid-copy holding the lock, for a minute.
    let mut cmd = scratch.cmd(&["put", input.to_str().unwrap()]);
    cmd.env(shmimage::protocol::PAUSE_MID_COPY_ENV, "60000");
    let holder = Publisher::start(cmd, "paused mid-copy");

    // While it holds the lock, a reader with a short timeout is told who holds it.
    let mut waiting = scratch.cmd(&["get", scratch.path("x.png").to_str().unwrap()]);
    waiting.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "300");
    let output = crate::util::run_with_deadline(waiting);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains(&format!(
            "locked by another process (pid {})",
            holder.child.id()
        )),
        "{err}"
    );

    holder.kill_hard();
    // With the holder dead, a reader that may wait at most one second gets the lock.
    let mut reader = scratch.cmd(&["get", scratch.path("x.png").to_str().unwrap()]);
    reader.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "1000");
    let output = crate::util::run_with_deadline(reader);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("nothing is shared"), "{err}");
}

#[test]
fn a_writer_killed_mid_copy_leaves_the_previous_image_readable() {
    let scratch = Scratch::new("killed-mid-copy");
    let first_image = test_image(50, 40, 1);
    let first = scratch.save("first.png", &first_image);
    let _first = scratch.put(&first, &[]);

    let second = scratch.save("second.png", &test_image(50, 40, 2));
    let mut cmd = scratch.cmd(&["put", second.to_str().unwrap()]);
    cmd.env(shmimage::protocol::PAUSE_MID_COPY_ENV, "60000");
    let torn_writer = Publisher::start(cmd, "paused mid-copy");

    // A reader queues behind the torn writer's lock, then the writer dies.
    let out = scratch.path("out.png");
    let mut cmd = scratch.cmd(&["get", out.to_str().unwrap()]);
    cmd.env(shmimage::protocol::LOCK_TIMEOUT_ENV, "60000")
        .env("RUST_LOG", "shmimage=info");
    let reader = Publisher::start(cmd, "waiting for the lock");
    torn_writer.kill_hard();
    assert!(reader.wait().success());
    assert_eq!(
        load(&out),
        first_image,
        "the reader got the previous complete image"
    );
}
