//! The window's state, and the `Command`s that change it: the parts draw from the state and
//! return commands, which are applied after layout; everything slow goes to the [`Worker`].
//!
//! Over 500 lines on purpose: this is the one place where the window's state changes (every
//! command and every outcome is applied here), so a reader finds all of them together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Key, KeyboardShortcut, Modifiers};

mod desktop;
mod following;
mod jobs;
mod placement;
mod playing;
mod republish;
mod sharing;

use super::image_view::{self, Viewer};
use super::language::{Language, tr};
use super::panels::{self, Panels};
use super::pixels::DisplayImage;
use super::settings::{self, CommandLineChoices};
use super::status::{self, Status};
use super::stepping::StepControl;
use super::worker::{DialogFor, Finished, JobGate, JobTag, Outcome, Published, Worker};
use super::{Start, key_bar, shortcuts};
use crate::codec::Encoding;
use crate::protocol::{self, Endpoint, Mode, Options, SegmentDir};
pub use image_view::Shown;
pub use sharing::Sharing;

/// Qt's idle text, nearly word for word.
pub const IDLE_TEXT: &str = "Launch two of these windows. In the first, press the top button and load an image \
    from a file. In the second, press the bottom button and display the loaded image from shared memory.";
/// The status line before anything has happened (the idle text itself fills the image area).
pub const READY_TEXT: &str = "Ready.";
pub const LOAD_FILE_LABEL: &str = "Load image from file";
pub const LOAD_MEMORY_LABEL: &str = "Load image from shared memory";
pub const FETCHING_TEXT: &str = "Loading the image from shared memory…";
pub const NO_DIALOG_TEXT: &str = "This desktop has no file dialog (no XDG desktop portal or zenity), so shmimage \
    shows its own. You can also drop an image file onto the window.";
/// The same, when the dialog was for another machine's report: dropping one does nothing.
pub const NO_DIALOG_FOR_REPORT_TEXT: &str = "This desktop has no file dialog (no XDG desktop \
    portal or zenity), so shmimage shows its own.";
pub const MODE_LABEL: &str = "Mode:";
pub const STOP_SHARING_LABEL: &str = "Stop sharing";
pub const DROP_TEXT: &str = "Drop the file to share it";
pub const SAVE_AS_LABEL: &str = "Save as…";
pub const REPUBLISH_LABEL: &str = "Republish on change";
pub(super) const LOAD_FILE_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
pub(super) const LOAD_MEMORY_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::L);
pub(super) const SAVE_AS_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
pub(super) const INSPECTOR_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::I);
pub(crate) const LESSONS_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::E);
pub(super) const PROTOCOL_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::T);
const CANCEL_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::NONE, Key::Escape);
/// A dialog that "returns cancelled" faster than this never appeared.
const DIALOG_FAILED_WITHIN: Duration = Duration::from_millis(250);

/// Ends in "pid N" in every language: scripts find a window by its pid.
pub fn window_title(key: &str) -> String {
    tr!(
        "Shared Memory Image — %{key} — pid %{pid}",
        key = key,
        pid = std::process::id()
    )
}

/// Where "Load image from file" gets its path: the native dialog, or (in tests) a fixed answer,
/// `None` meaning the user cancelled.
pub enum FilePicker {
    Native,
    /// The dialog drawn in the window (what a desktop with no native dialog gets).
    InWindow,
    Fixed(Option<PathBuf>),
}

/// Everything that changes the window's state, recorded while drawing and applied after.
#[must_use]
pub(super) enum Command {
    LoadFromFile,
    LoadPath(PathBuf),
    LoadFromMemory,
    OpenAnotherWindow,
    /// Qt's `detach()`: this window stops sharing its image.
    StopSharing,
    SaveAs,
    SavePath(PathBuf),
    SetKey(String),
    /// Qt's setNativeKey (empty: the key's own segment).
    SetNativeKey(String),
    SetRawShape(String),
    SetMode(Mode),
    SetEncoding(Encoding),
    SetFollow(bool),
    SetRepublishOnChange(bool),
    /// Opens or closes the panel of that name (see `panels::Panels`).
    SetPanelOpen(&'static str, bool),
    SetLanguage(Language),
    SetStepThrough(bool),
    NextStep,
    /// Cancel this window's load: a paused step or a lock wait gives up.
    CancelJob,
    SetActualSize(bool),
    RunCheck,
    /// Runs lesson N (an index into `LESSONS`) with real processes.
    RunLesson(usize),
    /// Asks for another machine's `check --json` report to show beside this one's.
    PickReportToCompare,
    CompareReport(PathBuf),
    CopyCheckReport,
    SaveCheckReport,
    Crash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    LoadingFile,
    Fetching,
    Saving,
}

/// What the window reads from (key, mode, native key, raw shape): a panel's poller or Follow's
/// watch for another source is stale.
pub(crate) type Source = (String, Mode, String, String);

pub struct ShmImageApp {
    pub key: String,
    /// This project's own segments, or the objects Qt's own example reads and writes.
    pub mode: Mode,
    pub encoding: Encoding,
    /// Test seam: where "Load image from file" gets its path.
    pub file_picker: FilePicker,
    /// Test seam: where Save as… gets its path.
    pub save_picker: FilePicker,
    pub status: Status,
    pub busy: Option<Job>,
    /// The image on screen.
    pub viewer: Viewer,
    /// What this window shares, and Follow.
    pub sharing: Sharing,
    /// The inspector, the Protocol panel and Check this OS.
    pub panels: Panels,
    /// The window's language (one for the whole process).
    pub language: Language,
    /// Whether the user picked the language here (then it is remembered; else the system's).
    language_chosen: bool,
    command_line: CommandLineChoices,
    /// Step-through and Cancel, shared with the worker.
    pub steps: Arc<StepControl>,
    /// The in-window file dialog, while it is open, and what it is for.
    pub file_dialog: Option<(DialogFor, egui_file::FileDialog)>,
    /// Where the in-window dialog opens: the folder of the last file loaded through it.
    pub last_folder: Option<PathBuf>,
    /// Qt's setNativeKey: read this POSIX object instead of the key's segment (empty: none),
    /// and the shape of its pixels if it has no header.
    pub native_key: String,
    pub raw_shape: String,
    busy_since: Instant,
    program: PathBuf,
    report_dir: PathBuf,
    dir: Result<SegmentDir, String>,
    /// Where this window is, for the next window that starts at the same place.
    presence: placement::Presence,
    options: Options,
    worker: Worker,
    ctx: egui::Context,
    next_job: std::cell::Cell<u64>,
}

impl ShmImageApp {
    pub fn new(cc: &eframe::CreationContext<'_>, start: Start) -> Self {
        let ctx = cc.egui_ctx.clone();
        start.language.apply();
        // Any script: installed fonts for what egui's lack; if none has a character, it shows as a
        // box and the log says why, once (providers are asked in order).
        ctx.add_font_provider(Arc::new(super::fonts::SystemFonts::start_scanning()));
        ctx.add_font_provider(Arc::new(NoFontWarning::default()));
        let mut app = Self {
            key: start.key,
            mode: start.mode,
            encoding: Encoding::Raw,
            file_picker: FilePicker::Native,
            save_picker: FilePicker::Native,
            status: Status::Ready,
            busy: None,
            viewer: Viewer::default(),
            sharing: Sharing {
                follow: start.command_line.follow,
                ..Sharing::default()
            },
            panels: Panels::default(),
            language: start.language,
            language_chosen: false,
            command_line: start.command_line,
            steps: Arc::new(StepControl::new(ctx.clone())),
            file_dialog: None,
            last_folder: None,
            native_key: start.native_key.unwrap_or_default(),
            raw_shape: start.raw_shape.unwrap_or_default(),
            busy_since: Instant::now(),
            program: start.program,
            report_dir: start.report_dir,
            dir: start.dir,
            presence: placement::Presence::default(),
            options: start.options,
            worker: Worker::new(ctx.clone()),
            ctx,
            next_job: std::cell::Cell::new(0),
        };
        // A native key from the command line is shown where it can be changed or cleared.
        app.panels.inspector.open = !app.native_key.is_empty();
        if let Some(storage) = cc.storage {
            app.restore(storage);
        }
        if let Some(path) = start.image {
            app.load_path(path);
        }
        app
    }

    /// Test seam: jobs wait at `gate` before they start (see [`JobGate`]).
    pub fn hold_jobs_at(&mut self, gate: JobGate) {
        self.worker.hold_jobs_at(gate);
    }

    pub(super) fn endpoint(&self) -> Result<Endpoint, String> {
        let dir = self.dir.clone()?;
        let mut endpoint = Endpoint::in_dir(&self.key, dir)
            .with_mode(self.mode)
            .with_options(self.options.clone());
        // Qt's setNativeKey: an object another framework made; it overrides key and mode.
        if let Some(native_key) = self.native_key_in_use() {
            endpoint.native_key = Some(native_key);
            let shape = self.raw_shape.trim();
            if !shape.is_empty() {
                endpoint.raw = Some(shape.parse().map_err(|why| {
                    tr!(
                        "The raw shape \"%{shape}\" is not understood: %{why}.",
                        shape = shape,
                        why = why
                    )
                })?);
            }
        }
        Ok(endpoint)
    }

    /// What the window reads from, for telling whether Follow's watch is still the right one.
    pub(super) fn source(&self) -> Source {
        (
            self.key.clone(),
            self.mode,
            self.native_key_in_use().unwrap_or_default(),
            self.raw_shape.trim().to_owned(),
        )
    }

    /// The endpoint for what the user asked for (a load): its steps can be stepped through and
    /// its lock waits cancelled.
    fn job_endpoint(&self) -> Result<Endpoint, String> {
        let observer: Arc<dyn protocol::Observer> = self.steps.clone();
        Ok(self.endpoint()?.with_observer(observer))
    }

    /// The native key in use, if one is set: it overrides the key and mode.
    pub(super) fn native_key_in_use(&self) -> Option<String> {
        let name = self.native_key.trim();
        (!name.is_empty()).then(|| name.to_owned())
    }

    /// A tag for a new job: the key and mode (or native key) it runs for.
    pub(super) fn tag(&self) -> JobTag {
        self.next_job.set(self.next_job.get() + 1);
        JobTag {
            id: self.next_job.get(),
            key: self.key.clone(),
            mode: self.mode,
            native_key: self.native_key_in_use(),
        }
    }

    /// Whether an outcome belongs to the key and mode (or native key) now shown.
    fn is_current(&self, tag: &JobTag) -> bool {
        tag.key == self.key && tag.mode == self.mode && tag.native_key == self.native_key_in_use()
    }

    /// Where a panel's poller sends what it sees.
    pub(super) fn outcomes(&self) -> std::sync::mpsc::Sender<Finished> {
        self.worker.outcomes()
    }

    pub(super) fn ctx(&self) -> &egui::Context {
        &self.ctx
    }

    fn max_texture_side(&self) -> usize {
        self.ctx.input(|i| i.max_texture_side)
    }

    fn start(&mut self, job: Job, status: String) {
        self.steps.start_job();
        self.busy = Some(job);
        self.busy_since = Instant::now();
        self.status = Status::Working(status);
    }

    fn fail(&mut self, message: String) {
        self.busy = None;
        self.status = Status::Failed(message);
    }

    /// The image on screen no longer belongs to the key and mode: Follow fetches afresh, and the
    /// inspector looks again.
    fn forget_what_is_shown(&mut self) {
        self.sharing.shown_generation = None;
        for panel in self.panels.each() {
            panel.forget();
        }
        self.look_again_now();
    }

    /// What the panels show is out of date: their pollers look again now.
    pub(super) fn look_again_now(&self) {
        for panel in self.panels.each_ref() {
            panel.look_again_now();
        }
    }

    /// Called every frame: each panel's poller follows what is open and what is shown.
    fn keep_polling(&mut self) {
        let mut panels = std::mem::take(&mut self.panels);
        for panel in panels.each() {
            panel.keep_polling(self);
        }
        self.panels = panels;
    }

    fn apply_command(&mut self, command: Command) {
        match command {
            Command::LoadFromFile => self.load_from_file(),
            Command::LoadPath(path) => self.load_path(path),
            Command::LoadFromMemory => self.load_from_memory(),
            Command::OpenAnotherWindow => self.open_another_window(),
            Command::StopSharing => self.stop_sharing(),
            Command::SaveAs => self.save_as(),
            Command::SavePath(path) => self.save_to(path),
            Command::SetNativeKey(name) => {
                self.native_key = name;
                self.forget_what_is_shown();
            }
            Command::SetRawShape(shape) => {
                self.raw_shape = shape;
                self.forget_what_is_shown();
            }
            Command::SetKey(key) => {
                self.key = key;
                self.forget_what_is_shown();
                self.ctx
                    .send_viewport_cmd(egui::ViewportCommand::Title(window_title(&self.key)));
            }
            Command::SetMode(mode) => {
                self.mode = mode;
                self.forget_what_is_shown();
            }
            Command::SetEncoding(encoding) => self.encoding = encoding,
            Command::SetFollow(follow) => self.sharing.follow = follow,
            Command::SetRepublishOnChange(on) => self.sharing.republish_on_change = on,
            Command::SetPanelOpen(name, open) => self.panels.set_open(name, open),
            Command::SetLanguage(language) => {
                self.language = language;
                self.language_chosen = true;
                language.apply();
                self.ctx
                    .send_viewport_cmd(egui::ViewportCommand::Title(window_title(&self.key)));
            }
            Command::SetStepThrough(on) => self.steps.set_enabled(on),
            Command::NextStep => self.steps.next(),
            Command::CancelJob => self.steps.cancel(),
            Command::SetActualSize(actual) => self.viewer.actual_size = actual,
            Command::RunCheck => self.run_check(),
            Command::RunLesson(index) => self.run_lesson(index),
            Command::PickReportToCompare => self.pick_report_to_compare(),
            Command::CompareReport(path) => self.compare_report(path),
            Command::CopyCheckReport => {
                if let Some(Ok(report)) = &self.panels.check.report {
                    self.ctx
                        .copy_text(crate::commands::check::to_markdown(report));
                }
            }
            Command::SaveCheckReport => self.save_check_report(),
            Command::Crash => std::process::abort(),
        }
    }

    fn apply_outcome(&mut self, Finished { tag, outcome }: Finished) {
        let current = self.is_current(&tag);
        match outcome {
            Outcome::Cancelled => {
                self.busy = None;
                self.status = status::cancelled(self.viewer.shown.is_some());
            }
            Outcome::DialogUnavailable(purpose) => self.no_native_dialog(purpose),
            Outcome::Saved { path, note } => {
                self.busy = None;
                self.last_folder = path.parent().map(std::path::Path::to_path_buf);
                let saved = tr!("Saved the image to %{path}.", path = path.display());
                self.status = Status::Done(match note {
                    Some(note) => format!("{saved} ({note})"),
                    None => saved,
                });
            }
            Outcome::SaveFailed(sentence) => self.fail(sentence),
            Outcome::AnimationFound(path) => self.start_playing(path),
            Outcome::Published(published) if self.is_stale_frame(&published) => {
                // A frame of an animation stopped since: never shown, withdrawn.
                let publication = published.publication;
                self.worker.run_quietly(move || publication.withdraw());
            }
            Outcome::Published(published) => self.on_published(published, &tag, current),
            Outcome::NotWholeYet(error) => self.republish_failed(&error),
            Outcome::LoadFailed { error } => self.fail(status::load_failed(&error)),
            Outcome::Fetched {
                image,
                header,
                segment_size,
                elapsed,
                note,
            } => {
                self.show_fetched(image, &header, segment_size, elapsed, &tag, current);
                self.viewer.shown_after_click = Some(self.busy_since);
                self.busy = None;
                self.status = status::fetched(&tag, &header, note);
            }
            Outcome::FetchFailed(error) => self.fail(status::fetch_failed(&tag.key, &error)),
            Outcome::Followed(outcome) => self.on_followed(*outcome, &tag, current),
            Outcome::JobFailed(what) => {
                let check = &mut self.panels.check;
                if check.running {
                    check.running = false;
                    check.report = Some(Err(status::job_failed(&what)));
                }
                let lessons = &mut self.panels.lessons;
                if lessons.running {
                    lessons.found(Err(status::job_failed(&what)));
                }
                self.fail(status::job_failed(&what));
            }
            Outcome::LessonRan(index, found) => {
                let lessons = &mut self.panels.lessons;
                if lessons.selected == index {
                    lessons.found(found.map_err(|err| err.to_string()));
                }
            }
            Outcome::Checked(report) => {
                let check = &mut self.panels.check;
                check.running = false;
                check.report = Some(report.map_err(|err| err.to_string()));
            }
            Outcome::ReportRead(read) => {
                self.busy = None;
                if let Ok((path, _)) = &read {
                    self.last_folder = path.parent().map(std::path::Path::to_path_buf);
                }
                self.panels.check.compared = Some(read);
            }
            // One for another key or mode is dropped: the new key's poller sends its own.
            Outcome::Seen { panel, seen } => {
                if current && let Some(panel) = self.panels.named(panel) {
                    panel.seen(seen);
                }
            }
        }
    }

    /// What Follow's thread fetched by itself.
    fn on_followed(&mut self, outcome: Outcome, tag: &JobTag, current: bool) {
        match outcome {
            Outcome::Fetched {
                image,
                header,
                segment_size,
                elapsed,
                note,
            } if current => {
                self.show_fetched(image, &header, segment_size, elapsed, tag, current);
                // A load the user started keeps its own words in the status line.
                if self.busy.is_none() {
                    self.status = status::fetched(tag, &header, note);
                }
            }
            // Withdrawn between the news and the fetch, most likely: the next news follows.
            Outcome::FetchFailed(error) => log::info!("follow: {error}"),
            _ => {}
        }
    }

    /// The native file dialog cannot open here: from now on, straight to the window's own.
    fn no_native_dialog(&mut self, purpose: DialogFor) {
        self.file_picker = FilePicker::InWindow;
        self.save_picker = FilePicker::InWindow;
        self.busy = None;
        self.status = Status::Done(match purpose {
            DialogFor::Report => tr!(NO_DIALOG_FOR_REPORT_TEXT),
            DialogFor::Load | DialogFor::Save => tr!(NO_DIALOG_TEXT),
        });
        match purpose {
            DialogFor::Load => self.open_in_window_dialog(),
            DialogFor::Save => {
                self.open_in_window_save_dialog(crate::gui::save::suggested_file_name(&self.key));
            }
            DialogFor::Report => self.open_in_window_report_dialog(),
        }
    }

    /// A frame of an animation that is no longer played (stopped, or replaced by another).
    fn is_stale_frame(&self, published: &Published) -> bool {
        published
            .frame_of
            .is_some_and(|player| self.sharing.playing.as_ref().is_none_or(|p| p.id != player))
    }

    /// A load (or an animation's frame) is shared: it replaces what this window shared.
    fn on_published(&mut self, published: Published, tag: &JobTag, current: bool) {
        let Published {
            image,
            publication,
            path,
            note,
            elapsed,
            frame_of,
        } = published;
        let header = publication.header;
        let caption = status::published_caption(&path, &publication, elapsed);
        self.status = status::published(&path, &tag.key, &header, note);
        self.sharing.shared_path = Some(path.clone());
        if let Some(old) = self.sharing.publication.replace(publication) {
            self.worker.run_quietly(move || old.withdraw());
        }
        self.sharing.shown_generation = current.then_some(header.generation);
        self.show(image, caption);
        // An animation's later frames leave a load or fetch the user started running.
        if frame_of.is_none() || self.busy == Some(Job::LoadingFile) {
            self.busy = None;
        }
        self.look_again_now();
    }

    /// Shows what a fetch (a click's or Follow's) brought; it is the key's current generation
    /// only if the fetch was for the key and mode shown.
    fn show_fetched(
        &mut self,
        image: DisplayImage,
        header: &crate::codec::Header,
        segment_size: usize,
        elapsed: Duration,
        tag: &JobTag,
        current: bool,
    ) {
        let caption = status::fetched_caption(tag, header, segment_size, elapsed);
        self.sharing.shown_generation = current.then_some(header.generation);
        self.viewer.shown_generation_to_log = Some(header.generation);
        self.show(image, caption);
        self.ctx.request_repaint();
    }

    fn show(&mut self, image: DisplayImage, caption: String) {
        self.viewer.show(&self.ctx, image, caption);
    }

    /// Draws one frame: takes in what the worker finished, draws the parts, then applies what
    /// they asked for.
    fn frame(&mut self, ui: &mut egui::Ui) {
        self.viewer.note_time_on_screen();
        // The pixels a fetch may reuse go once stale; egui forgets a repaint asked for before
        // the last frame, so each frame asks again.
        if let Some(wait) = super::pixels::let_go_of_a_stale_spare() {
            self.ctx.request_repaint_after(wait);
        }
        while let Some(finished) = self.worker.poll() {
            self.apply_outcome(finished);
        }
        self.keep_polling();
        self.keep_following();
        self.keep_republishing();
        if let Ok(dir) = &self.dir {
            self.presence.tick(ui.ctx(), dir.path());
        }
        let mut commands = Vec::new();
        self.shortcuts_and_drops(ui.ctx(), &mut commands);

        egui::Panel::top("key-bar").show(ui, |ui| key_bar::show(self, ui, &mut commands));
        egui::Panel::bottom("status").show(ui, |ui| status::show_line(self, ui, &mut commands));
        let mut panels = std::mem::take(&mut self.panels);
        panels::show(&mut panels, self, ui, &mut commands);
        self.panels = panels;
        egui::CentralPanel::default().show(ui, |ui| image_view::show(self, ui, &mut commands));
        self.show_file_dialog(&ui.ctx().clone(), &mut commands);

        for command in commands {
            self.apply_command(command);
        }
    }

    fn shortcuts_and_drops(&self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        let idle = self.busy.is_none();
        ctx.input_mut(|input| {
            if input.consume_shortcut(&LOAD_FILE_SHORTCUT) && idle {
                commands.push(Command::LoadFromFile);
            }
            if input.consume_shortcut(&LOAD_MEMORY_SHORTCUT) && idle {
                commands.push(Command::LoadFromMemory);
            }
            if idle && self.viewer.shown.is_some() && input.consume_shortcut(&SAVE_AS_SHORTCUT) {
                commands.push(Command::SaveAs);
            }
            panels::shortcuts(&self.panels, input, commands);
            if input.consume_shortcut(&shortcuts::step_through()) {
                commands.push(Command::SetStepThrough(!self.steps.is_enabled()));
            }
            if self.steps.paused_before().is_some()
                && input.consume_shortcut(&shortcuts::next_step())
            {
                commands.push(Command::NextStep);
            }
            if !idle && input.consume_shortcut(&CANCEL_SHORTCUT) {
                commands.push(Command::CancelJob);
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

    /// Whether this window is sharing an image (so "Stop sharing" applies).
    pub fn is_sharing(&self) -> bool {
        self.sharing.publication.is_some()
    }
}

/// Says once, in the log, that no installed font can draw some text.
#[derive(Default)]
struct NoFontWarning {
    warned: std::sync::atomic::AtomicBool,
}

impl egui::FontProvider for NoFontWarning {
    fn font_for(&self, request: &egui::FallbackRequest<'_>) -> Option<egui::FontInsert> {
        if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            log::warn!(
                "no installed font can draw {:?}: such text shows as boxes; install a font for it \
                 (for Chinese: Noto Sans CJK, Source Han Sans, WenQuanYi, Microsoft YaHei or PingFang)",
                request.cluster
            );
        }
        None
    }
}

impl eframe::App for ShmImageApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, settings::STORAGE_KEY, &self.settings());
    }
}

impl Drop for ShmImageApp {
    fn drop(&mut self) {
        // A load paused in step-through or waiting for a lock gives up at once, so the worker
        // releases what it holds and the program can end.
        self.steps.cancel();
        // Stop sharing on a worker (detaching takes the lock, which another process may hold);
        // `gui::run` waits for it once the window is gone, at most `Worker::EXIT_WAIT`.
        if let Some(publication) = self.sharing.publication.take() {
            self.worker.run_quietly(move || publication.withdraw());
        }
    }
}
