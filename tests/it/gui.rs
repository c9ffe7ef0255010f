//! UI tests: the real app, driven through its accessibility tree (no GPU, no window), with the
//! file dialog replaced through the app's `file_picker` seam.

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use shmimage::gui::app::{
    FETCHING_TEXT, IDLE_TEXT, Job, LOAD_FILE_LABEL, LOAD_MEMORY_LABEL, READY_TEXT,
};
use shmimage::gui::worker::JobGate;
use shmimage::gui::{FilePicker, ShmImageApp, Start};
use shmimage::protocol::{Mode, Options, SegmentDir};

use crate::util::{Scratch, test_image};

/// The real app, started the way `gui::run` starts it (an eframe creation context), in the
/// scratch's segment directory.
pub(crate) fn harness(scratch: &Scratch) -> Harness<'static, ShmImageApp> {
    harness_with(scratch, |_| {})
}

/// Like [`harness`], with the start adjusted first (as a command line would).
pub(crate) fn harness_with(
    scratch: &Scratch,
    adjust: impl FnOnce(&mut Start),
) -> Harness<'static, ShmImageApp> {
    let dir = SegmentDir::at(scratch.seg_dir()).expect("segment dir");
    let mut start = Start {
        key: scratch.key.clone(),
        mode: Mode::Shmimage,
        image: None,
        dir: Ok(dir),
        options: Options::default(),
        program: crate::util::BIN.into(),
        report_dir: scratch.path("reports"),
        // Whatever the developer's locale: the tests find widgets by their English labels.
        language: shmimage::gui::Language::English,
        command_line: Default::default(),
        native_key: None,
        raw_shape: None,
        position: None,
    };
    adjust(&mut start);
    Harness::builder()
        .with_size(egui::vec2(800.0, 600.0))
        .build_eframe(|cc| ShmImageApp::new(cc, start))
}

/// Steps the UI until the background job is over (with a deadline, never a fixed sleep).
pub(crate) fn settle(harness: &mut Harness<'_, ShmImageApp>) {
    let started = Instant::now();
    loop {
        harness.step();
        if harness.state().busy.is_none() {
            harness.run_steps(2);
            return;
        }
        assert!(
            started.elapsed() < crate::util::DEADLINE,
            "still busy: {}",
            harness.state().status.text()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn idle_window_explains_the_demo_and_shows_both_buttons() {
    let scratch = Scratch::new("gui-idle");
    let mut harness = harness(&scratch);
    harness.run_steps(2);
    harness.get_by_label(LOAD_FILE_LABEL);
    harness.get_by_label(LOAD_MEMORY_LABEL);
    assert!(
        !harness
            .query_all_by_label(IDLE_TEXT)
            .collect::<Vec<_>>()
            .is_empty()
    );
}

#[test]
fn load_from_file_shows_and_shares_the_image_and_disables_buttons_while_busy() {
    let scratch = Scratch::new("gui-load");
    let path = scratch.save("photo.png", &test_image(120, 80, 5));
    let mut harness = harness(&scratch);
    harness.state_mut().file_picker = FilePicker::Fixed(Some(path));
    // The job waits at the gate until the buttons have been checked.
    let gate = JobGate::closed();
    harness.state_mut().hold_jobs_at(gate.clone());
    harness.run_steps(1);
    harness.get_by_label(LOAD_FILE_LABEL).click();
    harness.run_steps(2);
    assert_eq!(harness.state().busy, Some(Job::LoadingFile));
    for label in [LOAD_FILE_LABEL, LOAD_MEMORY_LABEL] {
        assert!(
            harness.get_by_label(label).accesskit_node().is_disabled(),
            "{label} is disabled while busy"
        );
    }
    gate.open();
    settle(&mut harness);
    for label in [LOAD_FILE_LABEL, LOAD_MEMORY_LABEL] {
        assert!(
            !harness.get_by_label(label).accesskit_node().is_disabled(),
            "{label} is enabled again"
        );
    }
    let shown = harness
        .state()
        .viewer
        .shown
        .as_ref()
        .expect("an image is shown");
    assert_eq!(shown.full_size, [120, 80]);
    assert!(
        harness
            .state()
            .status
            .text()
            .starts_with("Shared photo.png"),
        "{}",
        harness.state().status.text()
    );
    // And another process can fetch it.
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(crate::util::load(&out), test_image(120, 80, 5));
}

#[test]
fn cancelling_the_dialog_changes_nothing() {
    let scratch = Scratch::new("gui-cancel");
    let mut harness = harness(&scratch);
    harness.state_mut().file_picker = FilePicker::Fixed(None);
    harness.run_steps(1);
    harness.get_by_label(LOAD_FILE_LABEL).click();
    settle(&mut harness);
    assert!(harness.state().viewer.shown.is_none());
    assert_eq!(harness.state().status.text(), READY_TEXT);
}

#[test]
fn a_text_file_gets_qts_message_with_the_reason() {
    let scratch = Scratch::new("gui-text");
    let path = scratch.path("notes.png");
    std::fs::write(&path, "hello").unwrap();
    let mut harness = harness(&scratch);
    harness.state_mut().file_picker = FilePicker::Fixed(Some(path));
    harness.run_steps(1);
    harness.get_by_label(LOAD_FILE_LABEL).click();
    settle(&mut harness);
    let status = harness.state().status.text();
    assert!(
        status.starts_with("Selected file is not an image, please select another."),
        "{status}"
    );
    assert!(status.contains("notes.png"), "{status}");
    assert!(harness.state().status.is_error());
}

#[test]
fn load_from_memory_with_nothing_shared_says_load_an_image_first() {
    let scratch = Scratch::new("gui-nothing");
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    harness.get_by_label(LOAD_MEMORY_LABEL).click();
    settle(&mut harness);
    let status = harness.state().status.text();
    assert!(
        status.starts_with("Unable to attach to shared memory segment. Load an image first."),
        "{status}"
    );
}

#[test]
fn load_from_memory_shows_what_another_process_published() {
    let scratch = Scratch::new("gui-cross-process");
    let input = scratch.save("in.png", &test_image(64, 32, 8));
    let publisher = scratch.put(&input, &[]);
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    harness.get_by_label(LOAD_MEMORY_LABEL).click();
    settle(&mut harness);
    let shown = harness.state().viewer.shown.as_ref().expect("image shown");
    assert_eq!(shown.full_size, [64, 32]);
    let pid = publisher.child.id();
    assert!(
        harness
            .state()
            .status
            .text()
            .contains(&format!("by pid {pid}")),
        "{}",
        harness.state().status.text()
    );
}

#[test]
fn an_image_larger_than_the_texture_limit_is_downscaled_for_display() {
    let image = test_image(3000, 1000, 1);
    let display = shmimage::gui::pixels::display_image(image, 1024);
    assert_eq!(display.full_size, [3000, 1000]);
    assert_eq!(display.pixels.size, [1024, 341]);
}

/// A publisher that hangs while holding the lock: the window keeps drawing frames while its
/// fetch is in flight, then says which process holds the lock.
#[test]
fn a_hung_lock_holder_never_freezes_the_window_and_is_named() {
    const FRAMES: usize = 100;
    let scratch = Scratch::new("gui-hung-holder");
    let input = scratch.save("in.png", &test_image(64, 64, 3));
    let mut cmd = scratch.cmd(&["put", input.to_str().unwrap()]);
    cmd.env(shmimage::protocol::PAUSE_MID_COPY_ENV, "60000");
    let holder = crate::util::Publisher::start(cmd, "paused mid-copy");

    let mut harness = harness(&scratch);
    // The fetch is held in flight by the gate: if it ran on the UI thread, the click would not
    // return until the gate opens, and no frame below would see the window busy.
    let gate = JobGate::closed();
    harness.state_mut().hold_jobs_at(gate.clone());
    harness.run_steps(1);
    harness.get_by_label(LOAD_MEMORY_LABEL).click();
    // The frame that takes the click starts the job after drawing; from the next one on, each
    // frame shows it.
    harness.step();
    for frame in 0..FRAMES {
        harness.step();
        // Each frame answered: it drew the busy status and the disabled button.
        assert_eq!(harness.state().busy, Some(Job::Fetching), "frame {frame}");
        harness.get_by_label(FETCHING_TEXT);
        assert!(
            harness
                .get_by_label(LOAD_MEMORY_LABEL)
                .accesskit_node()
                .is_disabled(),
            "frame {frame}"
        );
    }
    // Now the fetch really waits for the hung holder, and times out naming it.
    gate.open();
    settle(&mut harness);
    let status = harness.state().status.text();
    let pid = holder.child.id();
    assert!(
        status.contains(&format!("locked by another process (pid {pid})")),
        "{status}"
    );
    assert!(harness.state().status.is_error());
}

/// A file dropped on the window, as the windowing layer hands it to egui.
#[derive(Debug)]
struct DroppedPath(std::path::PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|err| err.to_string())
    }
}

#[test]
fn a_file_dropped_on_the_window_is_shown_and_shared() {
    let scratch = Scratch::new("gui-drop");
    let path = scratch.save("dropped.png", &test_image(70, 40, 9));
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(DroppedPath(path)));
    harness.step();
    settle(&mut harness);
    let shown = harness
        .state()
        .viewer
        .shown
        .as_ref()
        .expect("the dropped image is shown");
    assert_eq!(shown.full_size, [70, 40]);
    assert!(
        harness
            .state()
            .status
            .text()
            .starts_with("Shared dropped.png"),
        "{}",
        harness.state().status.text()
    );
    // And another process can fetch it.
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(crate::util::load(&out), test_image(70, 40, 9));
}

/// An outcome names the key its job ran for: a fetch started under one key and finished after
/// the key was changed says which key the image came from, and Follow does not take it for the
/// new key's image.
#[test]
fn an_outcome_names_the_key_it_was_for_even_after_the_key_changed() {
    let scratch = Scratch::new("gui-stale");
    let input = scratch.save("in.png", &test_image(16, 16, 4));
    let _publisher = scratch.put(&input, &[]);
    let mut harness = harness(&scratch);
    let gate = JobGate::closed();
    harness.state_mut().hold_jobs_at(gate.clone());
    harness.run_steps(1);
    harness.get_by_label(LOAD_MEMORY_LABEL).click();
    harness.run_steps(2);
    // The key field is the window's one text input.
    harness
        .get_by_role(egui::accesskit::Role::TextInput)
        .click();
    harness.run_steps(1);
    harness
        .get_by_role(egui::accesskit::Role::TextInput)
        .type_text("-other");
    harness.run_steps(2);
    let other = format!("{}-other", scratch.key);
    assert_eq!(harness.state().key, other);
    gate.open();
    settle(&mut harness);
    let status = harness.state().status.text();
    assert!(
        status.contains(&format!("under key \"{}\"", scratch.key)) && !status.contains(&other),
        "{status}"
    );
}

/// "Check this OS" from the inspector: the rows fill in while real processes run them, every
/// row passes, and the Markdown report can be saved.
#[test]
fn the_check_panel_runs_the_lifetime_table_and_saves_the_report() {
    use shmimage::gui::panels::check::{CHECK_LABEL, RUN_CHECK_LABEL, SAVE_REPORT_LABEL};
    let scratch = Scratch::new("gui-check");
    std::fs::create_dir_all(scratch.path("reports")).unwrap();
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    harness.get_by_label("Inspector").click();
    harness.run_steps(2);
    harness.get_by_label(CHECK_LABEL).click();
    harness.run_steps(2);
    assert!(harness.state().panels.check.open, "the panel opened");
    // A new egui window is laid out unseen in its first frame.
    harness.run_steps(3);
    harness.get_by_label(RUN_CHECK_LABEL).click();
    harness.run_steps(1);
    assert!(harness.state().panels.check.running);
    let started = Instant::now();
    while harness.state().panels.check.running {
        harness.step();
        assert!(
            started.elapsed() < crate::util::DEADLINE,
            "the check never finished"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(2);
    let report = match &harness.state().panels.check.report {
        Some(Ok(report)) => report.clone(),
        other => panic!("no report: {:?}", other.as_ref().map(|r| r.as_ref().err())),
    };
    assert_eq!(report.rows.len(), shmimage::commands::check::row_count());
    assert!(
        report.passed(),
        "{}",
        shmimage::commands::check::to_text(&report)
    );
    harness.get_by_label(SAVE_REPORT_LABEL).click();
    harness.run_steps(2);
    let saved = scratch
        .path("reports")
        .join(format!("shmimage-check-{}.md", report.about.date));
    let markdown = std::fs::read_to_string(&saved).expect("the report was saved");
    assert!(
        markdown.contains("| shmimage | a writer is killed |"),
        "{markdown}"
    );
}

/// The Check panel shows another machine's report beside this one's: Windows' measured report,
/// with its Qt row that Linux has no counterpart of.
#[test]
fn the_check_panel_shows_another_machines_report_beside_its_own() {
    use shmimage::gui::panels::check::{CHECK_LABEL, COMPARE_REPORT_LABEL};
    let scratch = Scratch::new("gui-compare");
    let windows = Path::new(env!("CARGO_MANIFEST_DIR")).join("checks/windows-under-wine.json");
    let mut harness = harness(&scratch);
    harness.state_mut().file_picker = FilePicker::Fixed(Some(windows));
    harness.run_steps(1);
    harness.get_by_label("Inspector").click();
    harness.run_steps(2);
    harness.get_by_label(CHECK_LABEL).click();
    harness.run_steps(5);
    harness.get_by_label(COMPARE_REPORT_LABEL).click();
    let started = Instant::now();
    while harness.state().panels.check.compared.is_none() {
        harness.step();
        assert!(
            started.elapsed() < crate::util::DEADLINE,
            "the report was never read"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(3);
    if let Some(Err(err)) = &harness.state().panels.check.compared {
        panic!("{err}");
    }
    harness.get_by_label("Microsoft Windows 7 (build 7601)");
    harness.get_by_label("a lock holder is killed");
}

/// A JPEG cut in half is shown (its lower part grey), and the status line says it is incomplete.
#[test]
fn an_incomplete_jpeg_is_shown_with_a_note() {
    let scratch = Scratch::new("gui-cut-jpeg");
    let whole = scratch.path("whole.jpg");
    image::DynamicImage::ImageRgba8(test_image(400, 300, 2))
        .to_rgb8()
        .save(&whole)
        .unwrap();
    let bytes = std::fs::read(&whole).unwrap();
    let half = scratch.path("half.jpg");
    std::fs::write(&half, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let mut harness = harness(&scratch);
    harness.state_mut().file_picker = FilePicker::Fixed(Some(half));
    harness.run_steps(1);
    harness.get_by_label(LOAD_FILE_LABEL).click();
    settle(&mut harness);
    let status = harness.state().status.text();
    assert!(
        status.starts_with("Shared half.jpg") && status.contains("incomplete JPEG"),
        "{status}"
    );
}

/// "Stop sharing" detaches, as Qt's detach(): another process then finds nothing shared.
#[test]
fn stop_sharing_detaches_so_nothing_is_shared() {
    use shmimage::gui::app::STOP_SHARING_LABEL;
    let scratch = Scratch::new("gui-stop");
    let path = scratch.save("photo.png", &test_image(30, 20, 1));
    let mut harness = harness(&scratch);
    harness.state_mut().file_picker = FilePicker::Fixed(Some(path));
    harness.run_steps(1);
    harness.get_by_label(LOAD_FILE_LABEL).click();
    settle(&mut harness);
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    harness.get_by_label(STOP_SHARING_LABEL).click();
    harness.run_steps(2);
    assert!(!harness.state().is_sharing());
    assert!(
        harness.state().status.text().starts_with("Stopped sharing"),
        "{}",
        harness.state().status.text()
    );
    // The withdrawal runs on a worker: wait for it, with a deadline.
    let started = Instant::now();
    loop {
        let said = scratch.run(&["get", out.to_str().unwrap()]);
        if String::from_utf8_lossy(&said.stderr).contains("nothing is shared") {
            break;
        }
        assert!(started.elapsed() < crate::util::DEADLINE, "still shared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// While a file hovers over the window, the image area says to drop it.
#[test]
fn a_hovering_file_shows_the_drop_target() {
    use shmimage::gui::app::DROP_TEXT;
    let scratch = Scratch::new("gui-hover");
    let mut harness = harness(&scratch);
    harness.run_steps(1);
    assert!(harness.query_by_label(DROP_TEXT).is_none());
    harness.input_mut().hovered_files.push(egui::HoveredFile {
        path: Some(scratch.path("photo.png")),
        ..Default::default()
    });
    harness.run_steps(1);
    harness.get_by_label(DROP_TEXT);
}

/// Save as… writes what is shown, exactly (straight alpha, full size), even once the process
/// that shared it has been killed and its segment is gone.
#[test]
fn save_as_writes_the_shown_image_exactly_even_after_its_publisher_died() {
    use shmimage::gui::app::SAVE_AS_LABEL;
    let scratch = Scratch::new("gui-save-as");
    // Translucent: the texture's pixels are premultiplied, the saved ones must not be.
    let translucent = test_image(64, 32, 8);
    let input = scratch.save("in.png", &translucent);
    let publisher = scratch.put(&input, &[]);
    let mut harness = harness(&scratch);
    let out = scratch.path("保存的图片.png");
    harness.state_mut().save_picker = FilePicker::Fixed(Some(out.clone()));
    harness.run_steps(1);
    harness.get_by_label(LOAD_MEMORY_LABEL).click();
    settle(&mut harness);
    publisher.kill_hard();
    harness.get_by_label(SAVE_AS_LABEL).click();
    settle(&mut harness);
    let status = harness.state().status.text();
    assert!(status.starts_with("Saved the image to"), "{status}");
    assert_eq!(crate::util::load(&out), translucent);

    // An opaque image loaded from a file, saved as JPEG (which keeps no alpha, and here loses
    // none), and as a name with no extension (a PNG).
    let opaque = image::RgbaImage::from_fn(40, 30, |x, y| {
        image::Rgba([x as u8 * 6, y as u8 * 8, 90, 255])
    });
    let path = scratch.save("opaque.png", &opaque);
    harness.state_mut().file_picker = FilePicker::Fixed(Some(path));
    harness.get_by_label(LOAD_FILE_LABEL).click();
    settle(&mut harness);
    let jpeg = scratch.path("copy.jpg");
    harness.state_mut().save_picker = FilePicker::Fixed(Some(jpeg.clone()));
    harness.get_by_label(SAVE_AS_LABEL).click();
    settle(&mut harness);
    let status = harness.state().status.text();
    assert!(
        status.starts_with("Saved the image to") && !status.contains("transparency"),
        "{status}"
    );
    let reread = image::open(&jpeg).unwrap();
    assert_eq!((reread.width(), reread.height()), (40, 30));
    harness.state_mut().save_picker = FilePicker::Fixed(Some(scratch.path("plain")));
    harness.get_by_label(SAVE_AS_LABEL).click();
    settle(&mut harness);
    assert_eq!(crate::util::load(&scratch.path("plain.png")), opaque);

    // A folder that does not exist: one sentence, and nothing is shown any differently.
    harness.state_mut().save_picker = FilePicker::Fixed(Some(scratch.path("missing/x.png")));
    harness.get_by_label(SAVE_AS_LABEL).click();
    settle(&mut harness);
    let status = harness.state().status.text();
    assert!(
        status.starts_with("Could not save") && status.ends_with("Pick another folder or name."),
        "{status}"
    );
    assert_eq!(
        harness.state().viewer.shown.as_ref().unwrap().full_size,
        [40, 30]
    );
}

/// Where there is no native dialog, Save as… uses the window's own, with the key as the name.
#[test]
fn save_as_in_the_window_dialog_suggests_the_key_and_writes_there() {
    use shmimage::gui::app::SAVE_AS_LABEL;
    use shmimage::gui::worker::DialogFor;
    let scratch = Scratch::new("gui-save-dialog");
    let path = scratch.save("photo.png", &test_image(30, 20, 1));
    let mut harness = harness(&scratch);
    {
        let app = harness.state_mut();
        app.file_picker = FilePicker::Fixed(Some(path));
        app.save_picker = FilePicker::InWindow;
    }
    harness.run_steps(1);
    harness.get_by_label(LOAD_FILE_LABEL).click();
    settle(&mut harness);
    harness.state_mut().last_folder = Some(scratch.tmp.path().to_path_buf());
    harness.get_by_label(SAVE_AS_LABEL).click();
    harness.run_steps(3);
    assert!(
        matches!(harness.state().file_dialog, Some((DialogFor::Save, _))),
        "the save dialog opened"
    );
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    settle(&mut harness);
    assert!(harness.state().file_dialog.is_none(), "the dialog closed");
    let saved = scratch.path(&format!("{}.png", scratch.key));
    assert_eq!(crate::util::load(&saved), test_image(30, 20, 1));
}

/// "Republish on change": an edit of the shared file (saved by renaming a new file over it)
/// is published again without a click; a half-written file keeps the last good image shared,
/// with one sentence.
#[test]
fn republish_on_change_shares_each_save_and_keeps_the_last_good_image() {
    use shmimage::gui::app::REPUBLISH_LABEL;
    let scratch = Scratch::new("gui-republish");
    let path = scratch.save("edit.png", &test_image(30, 20, 1));
    let mut harness = harness(&scratch);
    harness.state_mut().file_picker = FilePicker::Fixed(Some(path.clone()));
    harness.run_steps(1);
    harness.get_by_label(LOAD_FILE_LABEL).click();
    settle(&mut harness);
    harness.get_by_label(REPUBLISH_LABEL).click_accesskit();
    harness.run_steps(2);
    assert!(harness.state().sharing.republish_on_change);

    let saved = scratch.save("saved.png", &test_image(40, 25, 2));
    std::fs::rename(&saved, &path).unwrap();
    crate::gui_protocol::step_until(&mut harness, "the change was never published", |app| {
        app.viewer
            .shown
            .as_ref()
            .is_some_and(|s| s.full_size == [40, 25])
            && app.busy.is_none()
    });
    let out = scratch.path("out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(crate::util::load(&out), test_image(40, 25, 2));

    std::fs::write(&path, b"\x89PNG\r\n\x1a\n half of a file").unwrap();
    crate::gui_protocol::step_until(&mut harness, "no word about the half-written file", |app| {
        app.status.text().contains("does not decode yet")
    });
    assert!(harness.state().is_sharing());
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(crate::util::load(&out), test_image(40, 25, 2));
}

/// An animated GIF loaded in the window plays: each frame is shared and shown in turn, the
/// status line says which frame of how many, and Stop sharing ends it.
#[test]
fn an_animated_gif_plays_in_the_window_until_stop_sharing() {
    use shmimage::gui::app::STOP_SHARING_LABEL;
    let colours: [[u8; 4]; 3] = [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]];
    let scratch = Scratch::new("gui-animation");
    let path = scratch.path("anim.gif");
    {
        let mut encoder =
            image::codecs::gif::GifEncoder::new(std::fs::File::create(&path).unwrap());
        for colour in colours {
            let frame = image::Frame::from_parts(
                image::RgbaImage::from_pixel(12, 8, image::Rgba(colour)),
                0,
                0,
                image::Delay::from_numer_denom_ms(60, 1),
            );
            encoder.encode_frame(frame).unwrap();
        }
    }
    let mut harness = harness(&scratch);
    harness.state_mut().file_picker = FilePicker::Fixed(Some(path));
    harness.run_steps(1);
    harness.get_by_label(LOAD_FILE_LABEL).click();
    crate::gui_protocol::step_until(&mut harness, "the animation never looped", |app| {
        app.status.text().contains("frame 1 of 3")
    });
    assert!(harness.state().is_sharing());
    harness.get_by_label(STOP_SHARING_LABEL).click();
    harness.run_steps(2);
    assert!(!harness.state().is_sharing());
    // No frame published after Stop sharing is shown or left shared.
    let out = scratch.path("out.png");
    let started = Instant::now();
    loop {
        harness.step();
        let said = scratch.run(&["get", out.to_str().unwrap()]);
        if String::from_utf8_lossy(&said.stderr).contains("nothing is shared") {
            break;
        }
        assert!(started.elapsed() < crate::util::DEADLINE, "still shared");
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(5);
    assert!(!harness.state().is_sharing(), "a late frame came back");
}

/// The inspector and the Protocol panel look at the key on threads of their own and wake the
/// window only when what they see changes: open over an idle key they ask for no frame (each
/// look used to cost one, ten a second for the Protocol panel); another process publishing
/// wakes the window, and the inspector then shows what it published.
#[test]
fn open_panels_wake_the_window_only_when_the_key_changes() {
    let scratch = Scratch::new("gui-panels-idle");
    let mut harness = harness(&scratch);
    {
        let app = harness.state_mut();
        app.panels.inspector.open = true;
        app.panels.protocol.open = true;
    }
    step_until_rested(
        &mut harness,
        "the open panels never let the window rest",
        |app| app.panels.inspector.inspection.is_some(),
    );
    // Two of the inspector's looks and twenty of the Protocol panel's.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        !harness.ctx.has_requested_repaint(),
        "an open panel woke the window though nothing changed"
    );
    let image = scratch.save("other.png", &test_image(8, 8, 1));
    let _publisher = scratch.put(&image, &[]);
    let started = Instant::now();
    while !harness.ctx.has_requested_repaint() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "another process published, and no panel woke the window"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let shows_it = |app: &ShmImageApp| {
        matches!(&app.panels.inspector.inspection, Some(Ok(inspection))
            if inspection.rows.iter().any(|row| row.name == "dimensions" && row.value.english() == "8x8"))
    };
    let started = Instant::now();
    while !shows_it(harness.state()) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the inspector never showed the image another process published: {:?}",
            harness.state().panels.inspector.inspection
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// With no segment directory the inspector says why, and the window then rests instead of
/// spinning for ever.
#[test]
fn the_inspector_says_why_there_is_nothing_to_look_at() {
    let scratch = Scratch::new("gui-inspector-no-dir");
    let why = "the segment directory cannot be made here";
    let mut harness = harness_with(&scratch, |start| start.dir = Err(why.to_owned()));
    harness.state_mut().panels.inspector.open = true;
    let says_why = |app: &ShmImageApp| matches!(&app.panels.inspector.inspection, Some(Err(said)) if said == why);
    step_until_rested(
        &mut harness,
        "the inspector never said why, or never let the window rest",
        says_why,
    );
}

/// Steps the window until `done` holds and it asks for no further frame (within 30 s).
fn step_until_rested(
    harness: &mut Harness<'_, ShmImageApp>,
    what: &str,
    done: impl Fn(&ShmImageApp) -> bool,
) {
    let started = Instant::now();
    while !done(harness.state()) || harness.ctx.has_requested_repaint() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: inspection {:?}, repaint causes {:?}",
            harness.state().panels.inspector.inspection,
            harness.ctx.repaint_causes()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}
