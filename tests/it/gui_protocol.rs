//! Window tests for the Protocol panel and step-through, against real processes: the panel shows
//! another process's steps, step-through holds the lock until Next while another process waits
//! (past its own timeout) and then succeeds, and Cancel gives everything back.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use shmimage::gui::app::LOAD_MEMORY_LABEL;
use shmimage::gui::{
    CANCEL_LABEL, NEXT_STEP_LABEL, PROTOCOL_LABEL, STEP_THROUGH_LABEL, ShmImageApp,
};
use shmimage::protocol::{self, Endpoint, Role, SegmentDir, State, Step};

use crate::gui::{harness, settle};
use crate::util::{DEADLINE, Publisher, Scratch, load, test_image};

/// Runs frames until `done` holds, failing with `what` at the deadline.
pub(crate) fn step_until(
    harness: &mut Harness<'_, ShmImageApp>,
    what: &str,
    done: impl Fn(&ShmImageApp) -> bool,
) {
    let started = Instant::now();
    while !done(harness.state()) {
        assert!(
            started.elapsed() < DEADLINE,
            "{what}; status: {}",
            harness.state().status.text()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn paused_before(harness: &mut Harness<'_, ShmImageApp>, step: Step) {
    step_until(harness, &format!("never paused before {step:?}"), |app| {
        app.steps.paused_before().map(|(s, _)| s) == Some(step)
    });
    harness.run_steps(1);
}

/// Through accesskit, not at a position: while a step is paused the status line changes its
/// wording, and with it the layout, between the frame a click is aimed at and the next.
fn next_step(harness: &mut Harness<'_, ShmImageApp>) {
    harness.get_by_label(NEXT_STEP_LABEL).click_accesskit();
    harness.run_steps(1);
}

/// Opens the panel, turns step-through on and starts a fetch, which stops before its first
/// step; then runs attach and lock, so the window holds the lock, paused before the copy.
fn hold_the_lock_in_step_through(harness: &mut Harness<'_, ShmImageApp>) {
    harness.get_by_label(PROTOCOL_LABEL).click();
    // Clicks land where the last frame drew: wait for the put's steps, then click.
    step_until(harness, "the put's steps never appeared", |app| {
        !app.panels.protocol.timeline.is_empty()
    });
    harness.run_steps(2);
    harness.get_by_label(STEP_THROUGH_LABEL).click();
    harness.run_steps(1);
    assert!(harness.state().steps.is_enabled());
    harness.get_by_label(LOAD_MEMORY_LABEL).click();
    paused_before(harness, Step::Attach);
    next_step(harness);
    paused_before(harness, Step::Lock);
    next_step(harness);
    paused_before(harness, Step::CopyOut);
}

#[test]
fn the_panel_shows_another_processes_steps_and_explains_the_one_selected() {
    let scratch = Scratch::new("gui-protocol-panel");
    let input = scratch.save("in.png", &test_image(40, 30, 1));
    let publisher = scratch.put(&input, &[]);
    let pid = publisher.child.id();
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    harness.get_by_label(PROTOCOL_LABEL).click();
    step_until(&mut harness, "the put's steps never appeared", |app| {
        app.panels
            .protocol
            .timeline
            .iter()
            .any(|lane| lane.owner.pid == pid && lane.records.len() >= 3)
    });
    harness.run_steps(2);
    harness
        .get_by_label(&format!("create by pid {pid}"))
        .click();
    harness.run_steps(2);
    assert!(harness.state().panels.protocol.selected_step.is_some());
    harness.get_by_label("QSharedMemory::create(size), then lock()");
    harness.get_by_label(&format!("pid {pid} put"));
}

#[test]
fn step_through_holds_the_lock_until_next_while_another_process_waits_then_succeeds() {
    let scratch = Scratch::new("gui-step-through");
    let input = scratch.save("in.png", &test_image(50, 40, 2));
    let _publisher = scratch.put(&input, &[]);
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    hold_the_lock_in_step_through(&mut harness);

    // Another process needs the lock and would give up after 300 ms.
    let out = scratch.path("out.png");
    let mut get = scratch.cmd(&["get", out.to_str().unwrap()]);
    get.env(protocol::LOCK_TIMEOUT_ENV, "300");
    let mut waiter = get
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = Endpoint::in_dir(&scratch.key, SegmentDir::at(scratch.seg_dir()).unwrap());
    // Its journal shows it waiting, long past its own timeout.
    let started = Instant::now();
    loop {
        let waiting_long = protocol::journal(&endpoint).iter().any(|lane| {
            lane.owner.role == Role::Get
                && lane.records.last().is_some_and(|r| {
                    r.step == Step::Attach
                        && r.state == State::Running
                        && now_us().saturating_sub(r.start_us) > 1_500_000
                })
        });
        if waiting_long {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the other process never waited"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "the other process gave up while the lock was held in step-through"
    );

    next_step(&mut harness);
    paused_before(&mut harness, Step::Unlock);
    next_step(&mut harness);
    settle(&mut harness);
    assert_eq!(
        harness.state().viewer.shown.as_ref().unwrap().full_size,
        [50, 40]
    );
    assert!(crate::util::wait_with_deadline(&mut waiter).success());
    assert_eq!(load(&out), test_image(50, 40, 2));
}

#[test]
fn cancelling_a_step_through_gives_the_lock_back_and_keeps_the_image() {
    let scratch = Scratch::new("gui-step-cancel");
    let input = scratch.save("in.png", &test_image(20, 10, 3));
    let _publisher = scratch.put(&input, &[]);
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    harness.get_by_label(LOAD_MEMORY_LABEL).click();
    settle(&mut harness);
    assert_eq!(
        harness.state().viewer.shown.as_ref().unwrap().full_size,
        [20, 10]
    );

    hold_the_lock_in_step_through(&mut harness);
    // The panel's Cancel and the status line's do the same (accesskit: see `next_step`).
    harness
        .query_all_by_label(CANCEL_LABEL)
        .next()
        .expect("a Cancel button")
        .click_accesskit();
    settle(&mut harness);
    let status = harness.state().status.text().into_owned();
    assert!(status.starts_with("Cancelled"), "{status}");
    assert_eq!(
        harness.state().viewer.shown.as_ref().unwrap().full_size,
        [20, 10]
    );
    // The lock is free at once: a reader with a short timeout gets the image.
    let out = scratch.path("out.png");
    let mut get = scratch.cmd(&["get", out.to_str().unwrap()]);
    get.env(protocol::LOCK_TIMEOUT_ENV, "300");
    let output = crate::util::run_with_deadline(get);
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn a_lock_wait_can_be_cancelled() {
    let scratch = Scratch::new("gui-cancel-wait");
    let input = scratch.save("in.png", &test_image(64, 64, 4));
    let mut cmd = scratch.cmd(&["put", input.to_str().unwrap()]);
    cmd.env(protocol::PAUSE_MID_COPY_ENV, "60000");
    let _holder = Publisher::start(cmd, "paused mid-copy");
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    harness.get_by_label(LOAD_MEMORY_LABEL).click();
    harness.run_steps(2);
    assert!(harness.state().busy.is_some());
    // The status line's Cancel (the panel is closed, so it is the only one).
    harness.get_by_label(CANCEL_LABEL).click_accesskit();
    settle(&mut harness);
    let status = harness.state().status.text().into_owned();
    assert!(
        status.starts_with("Cancelled: cancelled while waiting for the lock"),
        "{status}"
    );
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

#[test]
fn settings_survive_a_restart_and_the_command_line_still_wins() {
    use shmimage::gui::settings::MemoryStorage;
    let scratch = Scratch::new("gui-settings");
    let mut first = harness(&scratch);
    first.run_steps(1);
    {
        let app = first.state_mut();
        app.key = "记住的键".to_owned();
        app.sharing.follow = true;
        app.panels.protocol.open = true;
        app.panels.inspector.open = true;
    }
    first.run_steps(1);
    let mut storage = MemoryStorage::default();
    eframe::App::save(first.state_mut(), &mut storage);
    drop(first);

    // What eframe does at the next start: the app restores from its storage.
    let mut second = harness(&scratch);
    second.state_mut().restore(&storage);
    second.run_steps(2);
    let app = second.state();
    assert_eq!(app.key, "记住的键");
    assert!(app.sharing.follow && app.panels.protocol.open && app.panels.inspector.open);
    second.get_by_label(STEP_THROUGH_LABEL);

    // A key given on the command line is not overridden by the remembered one.
    let mut third = crate::gui::harness_with(&scratch, |start| {
        start.key = "from-the-command-line".to_owned();
        start.command_line.key = true;
    });
    third.state_mut().restore(&storage);
    third.run_steps(1);
    assert_eq!(third.state().key, "from-the-command-line");
    assert!(third.state().sharing.follow, "the rest is still restored");
}

#[test]
fn the_in_window_file_dialog_picks_a_file_that_is_then_shared() {
    let scratch = Scratch::new("gui-in-window-dialog");
    scratch.save("照片.png", &test_image(30, 20, 6));
    std::fs::write(scratch.path("notes.txt"), b"not an image").unwrap();
    let mut harness = harness(&scratch);
    {
        let app = harness.state_mut();
        app.file_picker = shmimage::gui::FilePicker::InWindow;
        app.last_folder = Some(scratch.tmp.path().to_path_buf());
    }
    harness.run_steps(1);
    harness
        .get_by_label(shmimage::gui::app::LOAD_FILE_LABEL)
        .click();
    harness.run_steps(3);
    assert!(harness.state().file_dialog.is_some(), "the dialog opened");
    // The image filter: the text file is not offered.
    assert!(harness.query_by_label_contains("notes.txt").is_none());
    harness.get_by_label_contains("照片.png").click();
    harness.run_steps(2);
    harness.get_by_label("Open").click();
    harness.run_steps(2);
    settle(&mut harness);
    assert!(harness.state().file_dialog.is_none(), "the dialog closed");
    assert_eq!(
        harness.state().viewer.shown.as_ref().unwrap().full_size,
        [30, 20]
    );
    assert_eq!(
        harness.state().last_folder.as_deref(),
        Some(scratch.tmp.path()),
        "the folder is remembered"
    );
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(load(&out), test_image(30, 20, 6));
}

#[test]
fn follow_shows_each_new_image_without_a_click() {
    let scratch = Scratch::new("gui-follow");
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    harness.get_by_label("Follow").click_accesskit();
    harness.run_steps(2);
    assert!(harness.state().sharing.follow);
    // Nothing is shared: Follow looked once, and while nothing changes it does not look again
    // (no poll: the OS reports publishes). Only counts, never durations, are asserted.
    let first = harness.state().follow_probes().expect("following");
    for _ in 0..30 {
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let idle = harness.state().follow_probes().unwrap();
    assert!(
        idle <= first + 1,
        "{first} probes at first, {idle} after idling"
    );
    for (width, seed) in [(24, 1), (32, 2)] {
        let input = scratch.save(&format!("in{seed}.png"), &test_image(width, 10, seed));
        let _publisher = scratch.put(&input, &[]);
        step_until(&mut harness, "Follow never showed the new image", |app| {
            app.viewer
                .shown
                .as_ref()
                .is_some_and(|shown| shown.full_size == [width as usize, 10])
        });
    }
}
