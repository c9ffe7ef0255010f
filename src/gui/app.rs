//! The window's state and drawing. Clicks become [`Command`]s applied after layout; everything
//! slow is handed to the [`Worker`], so drawing never waits.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::{Color32, Key, KeyboardShortcut, Modifiers, RichText, TextureHandle, TextureOptions};

use super::worker::{self, DisplayImage, Outcome, Worker};
use crate::codec::{CodecError, Encoding, SUPPORTED_EXTENSIONS};
use crate::share::{self, Endpoint, Inspection, Mode, Publication, ShareError};
use crate::shm::{SegmentDir, ShmError};

/// Qt's idle text, nearly word for word.
pub const IDLE_TEXT: &str = "Launch two of these windows. In the first, press the top button and load an image \
    from a file. In the second, press the bottom button and display the loaded image from shared memory.";
/// The status line before anything has happened (the idle text itself fills the image area).
pub const READY_TEXT: &str = "Ready.";
pub const LOAD_FILE_LABEL: &str = "Load image from file";
pub const LOAD_MEMORY_LABEL: &str = "Load image from shared memory";
pub const FETCHING_TEXT: &str = "Loading the image from shared memory…";
const LOAD_FILE_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const LOAD_MEMORY_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::L);
const INSPECTOR_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::I);
/// A dialog that "returns cancelled" faster than this never appeared.
const DIALOG_FAILED_WITHIN: Duration = Duration::from_millis(250);
pub const NO_DIALOG_TEXT: &str = "No file dialog could be opened (this desktop has no XDG desktop portal or zenity). \
    Drop an image file onto the window instead, or start it with: shmimage IMAGE";
pub const QT_MODE_LABEL: &str = "Qt-compatible";
const QT_MODE_HINT: &str = "Exchange images with Qt's own shared-memory example: a System V segment and \
    semaphore named as Qt names them, holding the image as Qt writes it (QDataStream PNG).";
const QT_MODE_AVAILABLE: bool = cfg!(target_os = "linux");
const QT_LIFETIME_TEXT: &str = "Qt's rules: the segment lives while a process is attached, and whoever \
    detaches last removes it. A Qt process that crashes leaves its segment behind, and Qt's example then \
    cannot share again (\"Unable to create shared memory segment.\"); here such a leftover is removed by \
    the next load, which says so. A Qt writer that is still running keeps its image until a new one \
    replaces it.";
const QT6_LIFETIME_TEXT: &str = "Qt 6's rules (POSIX): the segment is /dev/shm/<key> and the lock the \
    semaphore /dev/shm/sem.<key>. Qt 6 never removes a segment, and its example reuses whatever is there. \
    Here every load makes a new segment, and the writer removes it when it stops sharing. Qt 6's \
    semaphore has no owner and no undo: if a Qt 6 program crashes while holding it, loads here wait \
    five seconds and then say how to clear it.";
const FOLLOW_POLL: Duration = Duration::from_millis(300);
const INSPECT_POLL: Duration = Duration::from_secs(1);

pub fn window_title(key: &str) -> String {
    format!("Shared Memory Image — {key} — pid {}", std::process::id())
}

/// Where "Load image from file" gets its path: the native dialog, or (in tests) a fixed answer,
/// `None` meaning the user cancelled.
pub enum FilePicker {
    Native,
    Fixed(Option<PathBuf>),
}

#[must_use]
enum Command {
    LoadFromFile,
    LoadPath(PathBuf),
    LoadFromMemory,
    OpenAnotherWindow,
    Crash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    LoadingFile,
    Fetching,
}

/// The image on screen and what to say about it.
pub struct Shown {
    pub texture: TextureHandle,
    /// Size of the image itself; the texture may be smaller (downscaled to the GPU's limit).
    pub full_size: [usize; 2],
    pub caption: String,
}

pub struct ShmImageApp {
    pub key: String,
    /// Native segments, or Qt-compatible ones that Qt's own example can read and write.
    pub mode: Mode,
    /// The Qt flavour chosen last, restored when "Qt-compatible" is ticked again.
    qt_flavour: Mode,
    pub encoding: Encoding,
    pub follow: bool,
    pub file_picker: FilePicker,
    /// Shown in the bottom line; errors are red.
    pub status: String,
    pub status_is_error: bool,
    pub busy: Option<Job>,
    pub shown: Option<Shown>,
    pub inspector_open: bool,
    pub inspection: Option<Result<Inspection, String>>,
    dir: Option<SegmentDir>,
    dir_error: Option<String>,
    worker: Worker,
    ctx: egui::Context,
    publication: Option<Publication>,
    shown_generation: Option<u64>,
    probing: bool,
    last_probe: Instant,
    inspecting: bool,
    last_inspect: Option<Instant>,
    actual_size: bool,
    confirm_crash: bool,
    busy_since: Instant,
    /// When the fetch now being shown was asked for: the frame after its texture was uploaded
    /// and drawn turns this into "on screen N ms after the click".
    shown_after_click: Option<Instant>,
}

impl ShmImageApp {
    /// `dir` is the segment directory (`None` if it could not be opened: the error is shown).
    pub fn new(ctx: egui::Context, key: &str, dir: Option<SegmentDir>) -> Self {
        let dir_error = match (&dir, SegmentDir::for_current_user()) {
            (None, Err(err)) => Some(err.to_string()),
            _ => None,
        };
        Self {
            key: key.to_owned(),
            mode: Mode::Native,
            qt_flavour: Mode::Qt,
            encoding: Encoding::Raw,
            follow: false,
            file_picker: FilePicker::Native,
            status: READY_TEXT.to_owned(),
            status_is_error: false,
            busy: None,
            shown: None,
            inspector_open: false,
            inspection: None,
            dir,
            dir_error,
            worker: Worker::new(ctx.clone()),
            ctx,
            publication: None,
            shown_generation: None,
            probing: false,
            last_probe: Instant::now(),
            inspecting: false,
            last_inspect: None,
            actual_size: false,
            confirm_crash: false,
            busy_since: Instant::now(),
            shown_after_click: None,
        }
    }

    /// Test seam: jobs wait at `gate` before they start (see [`worker::JobGate`]).
    pub fn hold_jobs_at(&mut self, gate: worker::JobGate) {
        self.worker.hold_jobs_at(gate);
    }

    fn endpoint(&self) -> Result<Endpoint, String> {
        match &self.dir {
            Some(dir) => Ok(Endpoint::in_dir(&self.key, dir.clone()).with_mode(self.mode)),
            None => Err(self
                .dir_error
                .clone()
                .unwrap_or_else(|| "the segment directory cannot be used".to_owned())),
        }
    }

    fn max_texture_side(&self) -> usize {
        self.ctx.input(|i| i.max_texture_side)
    }

    /// Publishes the image at `path` (what the dialog, a drop or the command line give).
    pub fn load_path(&mut self, path: PathBuf) {
        let endpoint = match self.endpoint() {
            Ok(endpoint) => endpoint,
            Err(err) => return self.set_error(err),
        };
        let (encoding, max_side) = (self.encoding, self.max_texture_side());
        self.start(Job::LoadingFile, format!("Loading {}…", path.display()));
        self.worker
            .spawn(move || worker::load_and_publish(endpoint, path, encoding, max_side));
    }

    fn load_from_file(&mut self) {
        match &self.file_picker {
            FilePicker::Fixed(Some(path)) => self.load_path(path.clone()),
            FilePicker::Fixed(None) => {}
            FilePicker::Native => {
                let endpoint = match self.endpoint() {
                    Ok(endpoint) => endpoint,
                    Err(err) => return self.set_error(err),
                };
                // The dialog future is made here (macOS wants dialogs started from the main
                // thread) and awaited on the worker, so the window keeps drawing meanwhile.
                let dialog = rfd::AsyncFileDialog::new()
                    .set_title(LOAD_FILE_LABEL)
                    .add_filter("Images", SUPPORTED_EXTENSIONS)
                    .add_filter("All files", &["*"])
                    .pick_file();
                let (encoding, max_side) = (self.encoding, self.max_texture_side());
                self.start(Job::LoadingFile, "Choose an image…".to_owned());
                self.worker.spawn(move || {
                    let opened = Instant::now();
                    match pollster::block_on(dialog) {
                        Some(file) => worker::load_and_publish(
                            endpoint,
                            file.path().to_path_buf(),
                            encoding,
                            max_side,
                        ),
                        // rfd reports "no dialog could be shown" (no XDG portal, no zenity) the
                        // same way as a cancel; nobody cancels a dialog this fast, so say why.
                        None if opened.elapsed() < DIALOG_FAILED_WITHIN => {
                            Outcome::DialogUnavailable
                        }
                        None => Outcome::Cancelled,
                    }
                });
            }
        }
    }

    fn load_from_memory(&mut self) {
        let endpoint = match self.endpoint() {
            Ok(endpoint) => endpoint,
            Err(err) => return self.set_error(err),
        };
        let max_side = self.max_texture_side();
        self.start(Job::Fetching, FETCHING_TEXT.to_owned());
        self.worker.spawn(move || worker::fetch(endpoint, max_side));
    }

    fn start(&mut self, job: Job, status: String) {
        self.busy = Some(job);
        self.busy_since = Instant::now();
        self.status = status;
        self.status_is_error = false;
    }

    fn set_error(&mut self, message: String) {
        self.busy = None;
        self.status = message;
        self.status_is_error = true;
    }

    fn apply(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Cancelled => {
                self.busy = None;
                self.status = if self.shown.is_some() {
                    "Cancelled; the image is unchanged.".to_owned()
                } else {
                    READY_TEXT.to_owned()
                };
                self.status_is_error = false;
            }
            Outcome::DialogUnavailable => self.set_error(NO_DIALOG_TEXT.to_owned()),
            Outcome::Published {
                image,
                publication,
                path,
                note,
                elapsed,
            } => {
                let header = publication.header;
                let file = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let caption = format!(
                    "{file} · {}x{} · {} · {} in shared memory · shared in {:.1} ms",
                    header.width,
                    header.height,
                    header.encoding,
                    human_bytes(publication.segment_size as u64),
                    elapsed.as_secs_f64() * 1000.0
                );
                if let Some(old) = self.publication.replace(publication) {
                    Worker::drop_in_background(old);
                }
                self.shown_generation = Some(header.generation);
                self.show(image, caption);
                self.busy = None;
                self.status = format!(
                    "Shared {file} under key \"{}\" (generation {}); press \"{LOAD_MEMORY_LABEL}\" in another window.{}",
                    self.key,
                    header.generation,
                    note.map(|n| format!(" Note: {n}.")).unwrap_or_default()
                );
                self.status_is_error = false;
                self.last_inspect = None;
            }
            Outcome::LoadFailed { path: _, error } => {
                let message = match &error {
                    ShareError::Codec(CodecError::NotAnImage { .. }) => {
                        format!("Selected file is not an image, please select another. ({error})")
                    }
                    _ => format!("Unable to load the image: {error}."),
                };
                self.set_error(message);
            }
            Outcome::Fetched {
                image,
                header,
                segment_size,
                elapsed,
                note,
            } => {
                let caption = format!(
                    "{}x{} · {} · {} from shared memory · generation {} from {} · read in {:.1} ms",
                    header.width,
                    header.height,
                    header.encoding,
                    human_bytes(segment_size as u64),
                    header.generation,
                    share::publisher_name(header.publisher_pid),
                    elapsed.as_secs_f64() * 1000.0
                );
                self.shown_generation = Some(header.generation);
                self.show(image, caption);
                self.shown_after_click = Some(self.busy_since);
                self.ctx.request_repaint();
                self.busy = None;
                self.status = format!(
                    "Showing the image shared under key \"{}\" by {} (generation {}).{}",
                    self.key,
                    share::publisher_name(header.publisher_pid),
                    header.generation,
                    note.map(|n| format!(" Note: {n}.")).unwrap_or_default()
                );
                self.status_is_error = false;
            }
            Outcome::FetchFailed(error) => {
                let message = match &error {
                    ShareError::Shm(ShmError::NotFound { .. }) => {
                        format!(
                            "Unable to attach to shared memory segment. Load an image first. (Nothing is shared under key \"{}\".)",
                            self.key
                        )
                    }
                    ShareError::Shm(ShmError::LeftoverRemoved { pid, .. }) => {
                        format!(
                            "Unable to attach to shared memory segment. Load an image first. (The segment left by pid {pid}, which exited without detaching, was removed.)"
                        )
                    }
                    _ => format!("Unable to load the image from shared memory: {error}."),
                };
                self.set_error(message);
            }
            Outcome::JobFailed(what) => {
                self.probing = false;
                self.inspecting = false;
                self.set_error(format!(
                    "Something went wrong inside shmimage ({what}); the window still works, try again or report it."
                ));
            }
            Outcome::Inspected(result) => {
                self.inspecting = false;
                self.inspection = Some(result.map_err(|err| err.to_string()));
            }
            Outcome::Probed(result) => {
                self.probing = false;
                if let Ok(Some(generation)) = result
                    && self.follow
                    && self.busy.is_none()
                    && Some(generation) != self.shown_generation
                {
                    self.load_from_memory();
                }
            }
        }
    }

    fn show(&mut self, image: DisplayImage, caption: String) {
        // Re-specify the texture we have rather than make a second one: a new handle would
        // keep the old texture alive until the end of the frame that uploads the new one.
        if let Some(shown) = &mut self.shown {
            shown.texture.set(image.pixels, TextureOptions::LINEAR);
            shown.full_size = image.full_size;
            shown.caption = caption;
            return;
        }
        let texture = self
            .ctx
            .load_texture("shown-image", image.pixels, TextureOptions::LINEAR);
        self.shown = Some(Shown {
            texture,
            full_size: image.full_size,
            caption,
        });
    }

    /// Called at the start of a frame: the previous frame uploaded and drew the new texture.
    fn note_time_on_screen(&mut self) {
        let (Some(clicked), Some(shown)) = (self.shown_after_click.take(), self.shown.as_mut())
        else {
            return;
        };
        let ms = clicked.elapsed().as_secs_f64() * 1000.0;
        log::info!("click to texture on screen: {ms:.1} ms");
        shown
            .caption
            .push_str(&format!(" · on screen {ms:.0} ms after the click"));
    }

    /// Background polling for follow mode and the open inspector.
    fn schedule_polls(&mut self) {
        if self.follow {
            if !self.probing
                && self.busy.is_none()
                && self.last_probe.elapsed() >= FOLLOW_POLL
                && let Ok(endpoint) = self.endpoint()
            {
                self.probing = true;
                self.last_probe = Instant::now();
                self.worker
                    .spawn(move || Outcome::Probed(share::newest_generation(&endpoint)));
            }
            self.ctx.request_repaint_after(FOLLOW_POLL);
        }
        if self.inspector_open {
            if !self.inspecting
                && self
                    .last_inspect
                    .is_none_or(|t| t.elapsed() >= INSPECT_POLL)
                && let Ok(endpoint) = self.endpoint()
            {
                self.inspecting = true;
                self.last_inspect = Some(Instant::now());
                self.worker
                    .spawn(move || Outcome::Inspected(share::inspect(&endpoint)));
            }
            self.ctx.request_repaint_after(INSPECT_POLL);
        }
    }

    /// Draws one frame. Kept free of eframe so tests can drive it without a window.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.note_time_on_screen();
        while let Some(outcome) = self.worker.poll() {
            self.apply(outcome);
        }
        self.schedule_polls();
        let mut commands = Vec::new();
        self.shortcuts_and_drops(ui.ctx(), &mut commands);

        egui::Panel::top("key-bar").show(ui, |ui| self.key_bar(ui, &mut commands));
        egui::Panel::bottom("status").show(ui, |ui| self.status_line(ui));
        if self.inspector_open {
            egui::Panel::right("inspector")
                .resizable(true)
                .default_size(320.0)
                .show(ui, |ui| self.inspector(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| self.main_area(ui, &mut commands));
        self.crash_confirmation(ui.ctx(), &mut commands);

        for command in commands {
            match command {
                Command::LoadFromFile => self.load_from_file(),
                Command::LoadPath(path) => self.load_path(path),
                Command::LoadFromMemory => self.load_from_memory(),
                Command::OpenAnotherWindow => self.open_another_window(),
                Command::Crash => std::process::abort(),
            }
        }
    }

    fn shortcuts_and_drops(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        let idle = self.busy.is_none();
        ctx.input_mut(|input| {
            if input.consume_shortcut(&LOAD_FILE_SHORTCUT) && idle {
                commands.push(Command::LoadFromFile);
            }
            if input.consume_shortcut(&LOAD_MEMORY_SHORTCUT) && idle {
                commands.push(Command::LoadFromMemory);
            }
            if input.consume_shortcut(&INSPECTOR_SHORTCUT) {
                self.inspector_open = !self.inspector_open;
            }
            if idle
                && let Some(path) = input
                    .raw
                    .dropped_files
                    .iter()
                    .map(|f| f.path().to_path_buf())
                    .find(|p| !p.as_os_str().is_empty())
            {
                commands.push(Command::LoadPath(path));
            }
        });
    }

    fn key_bar(&mut self, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        // Wraps onto a second line in a narrow window instead of hiding the last controls.
        ui.horizontal_wrapped(|ui| {
            let key_label = ui.label("Key:");
            let edit = ui
                .add(egui::TextEdit::singleline(&mut self.key).desired_width(200.0))
                .labelled_by(key_label.id);
            if edit.changed() {
                self.shown_generation = None;
                self.last_inspect = None;
                ui.ctx()
                    .send_viewport_cmd(egui::ViewportCommand::Title(window_title(&self.key)));
            }
            let mut qt = self.mode.is_qt();
            let toggle = ui
                .add_enabled(
                    QT_MODE_AVAILABLE,
                    egui::Checkbox::new(&mut qt, QT_MODE_LABEL),
                )
                .on_hover_text(QT_MODE_HINT)
                .on_disabled_hover_text(
                    "Qt-compatible mode (System V shared memory) is available on Linux only",
                );
            let mut changed = toggle.changed();
            if changed {
                self.mode = if qt { self.qt_flavour } else { Mode::Native };
            }
            if self.mode.is_qt() {
                let before = self.mode;
                egui::ComboBox::from_id_salt("qt-flavour")
                    .selected_text(qt_flavour_name(self.mode))
                    .show_ui(ui, |ui| {
                        for flavour in [Mode::Qt, Mode::Qt6] {
                            ui.selectable_value(&mut self.mode, flavour, qt_flavour_name(flavour));
                        }
                    })
                    .response
                    .labelled_by(toggle.id)
                    .on_hover_text("Qt 5 (and Qt 6 with a QString key) use System V; Qt 6.6+ with QNativeIpcKey uses POSIX");
                if self.mode != before {
                    self.qt_flavour = self.mode;
                    changed = true;
                }
            }
            if changed {
                self.shown_generation = None;
                self.last_inspect = None;
                self.inspection = None;
            }
            let encoding_label = ui.label("Encoding:");
            ui.add_enabled_ui(self.mode == Mode::Native, |ui| {
                egui::ComboBox::from_id_salt("encoding")
                    .selected_text(match self.mode {
                        Mode::Native => self.encoding.to_string(),
                        Mode::Qt | Mode::Qt6 => "Qt's PNG".to_owned(),
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.encoding, Encoding::Raw, "raw (fastest)");
                        ui.selectable_value(&mut self.encoding, Encoding::Png, "png (smallest)");
                    })
                    .response
                    .labelled_by(encoding_label.id)
                    .on_hover_text("How the image is stored in the segment")
                    .on_disabled_hover_text(
                        "Qt's example always stores a PNG (QDataStream << QImage)",
                    );
            });
            if ui
                .button("Open another window")
                .on_hover_text("Start a second shmimage with the same key")
                .clicked()
            {
                commands.push(Command::OpenAnotherWindow);
            }
            ui.toggle_value(&mut self.inspector_open, "Inspector")
                .on_hover_text(shortcut_hint(ui, &INSPECTOR_SHORTCUT));
        });
    }

    fn status_line(&self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            if self.busy.is_some() {
                ui.spinner();
                ui.ctx().request_repaint_after(Duration::from_millis(100));
            }
            let text = RichText::new(&self.status);
            let text = if self.status_is_error {
                text.color(Color32::from_rgb(220, 60, 60))
            } else {
                text
            };
            ui.label(text);
        });
    }

    fn main_area(&mut self, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        let idle = self.busy.is_none();
        let wide = egui::vec2(ui.available_width(), 32.0);
        let file_button = ui
            .add_enabled(idle, egui::Button::new(LOAD_FILE_LABEL).min_size(wide))
            .on_hover_text(format!(
                "Choose an image and share it ({}); or drop a file on the window",
                shortcut_hint(ui, &LOAD_FILE_SHORTCUT)
            ));
        if file_button.clicked() {
            commands.push(Command::LoadFromFile);
        }

        let image_height = (ui.available_height() - 44.0).max(40.0);
        let area = egui::vec2(ui.available_width(), image_height);
        ui.allocate_ui(area, |ui| {
            ui.set_min_size(area);
            self.image_area(ui);
        });

        ui.horizontal(|ui| {
            let button_width = (ui.available_width() - 90.0).max(120.0);
            let memory_button = ui
                .add_enabled(
                    idle,
                    egui::Button::new(LOAD_MEMORY_LABEL).min_size(egui::vec2(button_width, 32.0)),
                )
                .on_hover_text(format!(
                    "Show the image shared under the key ({})",
                    shortcut_hint(ui, &LOAD_MEMORY_SHORTCUT)
                ));
            if memory_button.clicked() {
                commands.push(Command::LoadFromMemory);
            }
            ui.checkbox(&mut self.follow, "Follow")
                .on_hover_text("Show every new image published under the key");
        });
    }

    fn image_area(&mut self, ui: &mut egui::Ui) {
        let Some(shown) = &self.shown else {
            ui.centered_and_justified(|ui| {
                let text = if self.busy.is_some() {
                    "Working…"
                } else {
                    IDLE_TEXT
                };
                ui.label(RichText::new(text).size(15.0));
            });
            return;
        };
        ui.horizontal(|ui| {
            // Cut to the window's width (whole text on hover): a long caption must not widen the
            // panel and push the controls below it out of sight.
            ui.scope(|ui| {
                ui.set_max_width((ui.available_width() - 50.0).max(40.0));
                ui.add(egui::Label::new(RichText::new(&shown.caption).small()).truncate())
                    .on_hover_text(&shown.caption);
            });
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let label = if self.actual_size { "Fit" } else { "100%" };
                if ui
                    .small_button(label)
                    .on_hover_text("Toggle between fit-to-window and actual pixels")
                    .clicked()
                {
                    self.actual_size = !self.actual_size;
                }
            });
        });
        let texture_size = shown.texture.size_vec2();
        if self.actual_size {
            // One image pixel per screen pixel (a downscaled texture is stretched back to full size).
            let full = egui::vec2(shown.full_size[0] as f32, shown.full_size[1] as f32)
                / ui.ctx().pixels_per_point();
            egui::ScrollArea::both().show(ui, |ui| {
                ui.add(egui::Image::new((shown.texture.id(), full)));
            });
        } else {
            let available = ui.available_size();
            let full = egui::vec2(shown.full_size[0] as f32, shown.full_size[1] as f32)
                / ui.ctx().pixels_per_point();
            // Never enlarge: an image that fits is drawn 1:1, so it stays crisp.
            let scale = (available.x / full.x).min(available.y / full.y).min(1.0);
            let size = if texture_size.x > 0.0 {
                full * scale
            } else {
                full
            };
            ui.centered_and_justified(|ui| {
                ui.add(egui::Image::new((shown.texture.id(), size)));
            });
        }
    }

    fn inspector(&mut self, ui: &mut egui::Ui) {
        ui.heading("Segment inspector");
        egui::ScrollArea::vertical().show(ui, |ui| {
            match &self.inspection {
                None => {
                    ui.spinner();
                }
                Some(Err(err)) => {
                    ui.colored_label(Color32::from_rgb(220, 60, 60), err);
                }
                Some(Ok(inspection)) => inspection_grid(ui, inspection),
            }
            ui.separator();
            ui.label(RichText::new("Lifetime").strong());
            if self.mode == Mode::Qt {
                ui.label(QT_LIFETIME_TEXT);
            } else if self.mode == Mode::Qt6 {
                ui.label(QT6_LIFETIME_TEXT);
            } else {
                ui.label(
                "A segment exists while at least one live process is attached to it. When the last one \
                 detaches or dies in any way (kill -9 included), the segment is gone for everyone: \
                 attaching says nothing is shared, and the next publish succeeds. A dead process's files \
                 are removed by the next create or attach. This is the same on Linux, macOS and Windows; \
                 Qt's example instead leaves a crashed writer's segment behind on Linux.",
            );
            }
            ui.separator();
            if ui.button("Simulate a crash…").on_hover_text("Abort this process, to watch the other window cope").clicked() {
                self.confirm_crash = true;
            }
        });
    }

    fn crash_confirmation(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        if !self.confirm_crash {
            return;
        }
        let modal = egui::Modal::new(egui::Id::unique("confirm-crash")).show(ctx, |ui| {
            ui.heading("Simulate a crash?");
            ui.label("This window's process will abort at once, like a crash: it gets no chance to clean up. \
                      The other windows keep working, and what this process shared disappears.");
            ui.horizontal(|ui| {
                if ui.button("Crash now").clicked() {
                    commands.push(Command::Crash);
                }
                if ui.button("Cancel").clicked() {
                    self.confirm_crash = false;
                }
            });
        });
        if modal.should_close() {
            self.confirm_crash = false;
        }
    }

    fn open_another_window(&mut self) {
        let spawned = std::env::current_exe().and_then(|exe| {
            let mut command = std::process::Command::new(exe);
            command.arg("--key").arg(&self.key);
            match self.mode {
                Mode::Native => {}
                Mode::Qt => {
                    command.arg("--qt");
                }
                Mode::Qt6 => {
                    command.arg("--qt6");
                }
            }
            command.spawn()
        });
        match spawned {
            // The child is not waited for: it is an independent window.
            Ok(child) => {
                self.status = format!("Opened another window (pid {}).", child.id());
                self.status_is_error = false;
            }
            Err(err) => self.set_error(format!("Could not open another window: {err}.")),
        }
    }
}

fn inspection_grid(ui: &mut egui::Ui, inspection: &Inspection) {
    egui::Grid::new("inspection")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let mut row = |name: &str, value: String| {
                ui.label(name);
                ui.add(egui::Label::new(RichText::new(value).monospace()).wrap());
                ui.end_row();
            };
            row("Key", inspection.key.clone());
            if let Some(qt) = &inspection.qt {
                qt_rows(&mut row, qt);
                return;
            }
            if let Some(qt6) = &inspection.qt6 {
                qt6_rows(&mut row, qt6);
                return;
            }
            row("Native key", inspection.native_key.clone());
            row("Directory", inspection.dir.display().to_string());
            row("Lock", inspection.lock_path.display().to_string());
            if inspection.segments.is_empty() {
                row("Segment", "none: nothing is shared".to_owned());
            }
            for (file, header) in inspection.segments.iter().rev() {
                row(
                    "Segment",
                    file.path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
                row(
                    "  State",
                    if file.live {
                        "live".to_owned()
                    } else {
                        "leftover of a dead process".to_owned()
                    },
                );
                row("  Generation", file.generation.to_string());
                row(
                    "  Size",
                    format!("{} ({} bytes)", human_bytes(file.size), file.size),
                );
                match header {
                    Ok(h) => {
                        row("  Encoding", h.encoding.to_string());
                        row("  Dimensions", format!("{}x{}", h.width, h.height));
                        row("  Publisher", format!("pid {}", h.publisher_pid));
                    }
                    Err(err) => row("  Contents", format!("unreadable: {err}")),
                }
            }
        });
}

/// The System V side of a key in Qt-compatible mode: what `ipcs` would show, and Qt's key files.
fn qt_rows(row: &mut impl FnMut(&str, String), qt: &crate::shm::QtInspection) {
    let ipc_key = |key: Option<i32>| key.map_or("missing".to_owned(), |k| format!("0x{k:08x}"));
    row(
        "Mode",
        "Qt-compatible (System V, as Qt 5 on Linux)".to_owned(),
    );
    row("Segment key file", qt.shm_key_file.display().to_string());
    row("  IPC key (ftok)", ipc_key(qt.shm_ipc_key));
    row("Semaphore key file", qt.sem_key_file.display().to_string());
    row("  IPC key (ftok)", ipc_key(qt.sem_ipc_key));
    row(
        "Semaphore id",
        qt.semaphore_id
            .map_or("none".to_owned(), |id| id.to_string()),
    );
    match (qt.segment_id, &qt.segment) {
        (Some(id), Some(segment)) => {
            row("Segment id (shmid)", id.to_string());
            row(
                "  Size",
                format!(
                    "{} ({} bytes)",
                    human_bytes(segment.size as u64),
                    segment.size
                ),
            );
            row("  Attach count", segment.attached.to_string());
            let creator = if segment.creator_alive {
                "running"
            } else {
                "exited"
            };
            row(
                "  Creator",
                format!("pid {} ({creator})", segment.creator_pid),
            );
            let state = match (segment.attached, segment.creator_alive) {
                (0, false) => "leftover of a dead process (removed by the next load)",
                (0, true) => "nobody attached",
                _ => "live",
            };
            row("  State", state.to_owned());
        }
        _ => row("Segment", "none: nothing is shared".to_owned()),
    }
}

fn qt_flavour_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Qt6 => "Qt 6 (POSIX)",
        _ => "Qt 5 (System V)",
    }
}

/// The POSIX side of a key in Qt 6 mode.
fn qt6_rows(row: &mut impl FnMut(&str, String), qt6: &crate::shm::Qt6Inspection) {
    row("Mode", "Qt 6 compatible (POSIX, QNativeIpcKey)".to_owned());
    row("Segment", qt6.segment_path.display().to_string());
    row(
        "  Size",
        qt6.segment_size
            .map_or("none: nothing is shared".to_owned(), |size| {
                format!("{} ({size} bytes)", human_bytes(size))
            }),
    );
    row("Semaphore", qt6.semaphore_path.display().to_string());
    row(
        "  State",
        if qt6.semaphore_exists {
            "exists"
        } else {
            "none"
        }
        .to_owned(),
    );
}

fn shortcut_hint(ui: &egui::Ui, shortcut: &KeyboardShortcut) -> String {
    ui.ctx().format_shortcut(shortcut)
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl eframe::App for ShmImageApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        ShmImageApp::ui(self, ui);
    }
}

impl Drop for ShmImageApp {
    fn drop(&mut self) {
        // Detach here, on exit, rather than leave it to process teardown.
        if let Some(publication) = self.publication.take() {
            publication.withdraw();
        }
    }
}
