//! The window's state, and the `Command`s that change it. The parts draw from the state and
//! return commands; the commands are applied after layout; everything slow goes to the
//! [`Worker`], whose outcomes come back tagged with the key and mode they were for.
//!
//! Over 500 lines on purpose: this is the one place where the window's state changes (every
//! command and every outcome is applied here), so a reader finds all of them together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Key, KeyboardShortcut, Modifiers, TextureHandle, TextureOptions};

use super::check_panel::{self, CheckPanel};
use super::language::{Language, tr};
use super::settings::{self, CommandLineChoices, Settings};
use super::status::{self, Status};
use super::stepping::StepControl;
use super::worker::{self, DisplayImage, Finished, JobGate, JobTag, Lane, Outcome, Worker};
use super::{Start, image_view, inspector, key_bar, protocol_panel};
use crate::codec::{Encoding, SUPPORTED_EXTENSIONS};
use crate::share::{
    self, Endpoint, Inspection, Mode, Options, ProcessJournal, Publication, Record, SegmentDir,
};

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
pub const QT_MODE_LABEL: &str = "Qt-compatible";
pub const STOP_SHARING_LABEL: &str = "Stop sharing";
pub const DROP_TEXT: &str = "Drop the file to share it";
pub(super) const LOAD_FILE_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
pub(super) const LOAD_MEMORY_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::L);
pub(super) const INSPECTOR_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::I);
pub(super) const PROTOCOL_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND, Key::T);
/// As in debuggers: F9 toggles (a breakpoint there, step-through here), F10 steps over.
pub(super) const STEP_THROUGH_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::NONE, Key::F9);
pub(super) const NEXT_STEP_SHORTCUT: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::NONE, Key::F10);
const CANCEL_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::NONE, Key::Escape);
/// A dialog that "returns cancelled" faster than this never appeared.
const DIALOG_FAILED_WITHIN: Duration = Duration::from_millis(250);
const FOLLOW_POLL: Duration = Duration::from_millis(300);
const INSPECT_POLL: Duration = Duration::from_secs(1);
/// The Protocol panel reads the journals this often while it is open: live, and cheap (a few
/// 16 KiB files).
const JOURNAL_POLL: Duration = Duration::from_millis(100);

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
    SetKey(String),
    /// The "Qt-compatible" tick box: on selects the Qt flavour chosen last.
    SetQtCompatible(bool),
    SetMode(Mode),
    SetEncoding(Encoding),
    SetFollow(bool),
    SetInspectorOpen(bool),
    SetLanguage(Language),
    SetProtocolOpen(bool),
    SetStepThrough(bool),
    NextStep,
    /// Cancel this window's load: a paused step or a lock wait gives up.
    CancelJob,
    SelectStep(Option<StepId>),
    SetActualSize(bool),
    OpenCheck(bool),
    RunCheck,
    CopyCheckReport,
    SaveCheckReport,
    AskToCrash,
    CancelCrash,
    Crash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    LoadingFile,
    Fetching,
}

/// Names one recorded step across refreshes of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepId {
    pid: u32,
    opened_us: u64,
    seq: u64,
}

impl StepId {
    pub fn of(lane: &ProcessJournal, record: &Record) -> Self {
        Self {
            pid: lane.owner.pid,
            opened_us: lane.owner.opened_us,
            seq: record.seq,
        }
    }
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
    pub(super) qt_flavour: Mode,
    pub encoding: Encoding,
    pub follow: bool,
    /// Test seam: where "Load image from file" gets its path.
    pub file_picker: FilePicker,
    pub status: Status,
    pub busy: Option<Job>,
    pub shown: Option<Shown>,
    pub inspector_open: bool,
    pub inspection: Option<Result<Inspection, String>>,
    pub(super) actual_size: bool,
    pub(super) confirm_crash: bool,
    /// "Check this OS".
    pub check: CheckPanel,
    pub protocol_open: bool,
    /// The window's language (one for the whole process).
    pub language: Language,
    /// Whether the user picked the language here (then it is remembered; else the system's).
    language_chosen: bool,
    command_line: CommandLineChoices,
    /// Every process's steps under the key, as last read from the journals.
    pub timeline: Vec<ProcessJournal>,
    pub selected_step: Option<StepId>,
    /// Step-through and Cancel, shared with the worker.
    pub steps: Arc<StepControl>,
    /// The in-window file dialog, while it is open.
    pub file_dialog: Option<egui_file::FileDialog>,
    /// Where the in-window dialog opens: the folder of the last file loaded through it.
    pub last_folder: Option<PathBuf>,
    reading_journal: bool,
    last_journal: Option<Instant>,
    program: PathBuf,
    report_dir: PathBuf,
    dir: Result<SegmentDir, String>,
    options: Options,
    worker: Worker,
    ctx: egui::Context,
    next_job: u64,
    publication: Option<Publication>,
    shown_generation: Option<u64>,
    probing: bool,
    last_probe: Instant,
    inspecting: bool,
    last_inspect: Option<Instant>,
    busy_since: Instant,
    /// When the fetch now being shown was asked for: the frame after its texture was uploaded
    /// and drawn turns this into "on screen N ms after the click".
    shown_after_click: Option<Instant>,
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
            qt_flavour: if start.mode == Mode::Native {
                Mode::Qt
            } else {
                start.mode
            },
            encoding: Encoding::Raw,
            follow: false,
            file_picker: FilePicker::Native,
            status: Status::Ready,
            busy: None,
            shown: None,
            inspector_open: false,
            inspection: None,
            actual_size: false,
            confirm_crash: false,
            check: CheckPanel::default(),
            protocol_open: false,
            language: start.language,
            language_chosen: false,
            command_line: start.command_line,
            timeline: Vec::new(),
            selected_step: None,
            steps: Arc::new(StepControl::new(ctx.clone())),
            file_dialog: None,
            last_folder: None,
            reading_journal: false,
            last_journal: None,
            program: start.program,
            report_dir: start.report_dir,
            dir: start.dir,
            options: start.options,
            worker: Worker::new(ctx.clone()),
            ctx,
            next_job: 0,
            publication: None,
            shown_generation: None,
            probing: false,
            last_probe: Instant::now(),
            inspecting: false,
            last_inspect: None,
            busy_since: Instant::now(),
            shown_after_click: None,
        };
        if let Some(storage) = cc.storage {
            app.restore(storage);
        }
        if let Some(path) = start.image {
            app.load_path(path);
        }
        app
    }

    /// What to remember of this window (see `settings.rs`).
    pub fn settings(&self) -> Settings {
        Settings {
            key: Some(self.key.clone()),
            mode: Some(self.mode.facts().journal_tag.to_owned()),
            qt_flavour: Some(self.qt_flavour.facts().journal_tag.to_owned()),
            encoding: Some(self.encoding.to_string()),
            follow: self.follow,
            inspector_open: self.inspector_open,
            protocol_open: self.protocol_open,
            language: self
                .language_chosen
                .then(|| self.language.code().to_owned()),
            last_folder: self.last_folder.clone(),
        }
    }

    /// Takes up what an earlier run remembered, except what the command line chose. `new`
    /// calls it with eframe's storage; tests call it with theirs.
    pub fn restore(&mut self, storage: &dyn eframe::Storage) {
        let Some(remembered) = eframe::get_value::<Settings>(storage, settings::STORAGE_KEY) else {
            return;
        };
        if !self.command_line.key
            && let Some(key) = remembered.key
        {
            self.apply_command(Command::SetKey(key));
        }
        if !self.command_line.mode {
            if let Some(flavour) = remembered
                .qt_flavour
                .as_deref()
                .and_then(settings::mode_named)
            {
                self.qt_flavour = flavour;
            }
            if let Some(mode) = remembered.mode.as_deref().and_then(settings::mode_named) {
                self.mode = mode;
            }
        }
        if let Some(encoding) = remembered
            .encoding
            .as_deref()
            .and_then(settings::encoding_named)
        {
            self.encoding = encoding;
        }
        self.follow = remembered.follow;
        self.inspector_open = remembered.inspector_open;
        self.protocol_open = remembered.protocol_open;
        self.last_folder = remembered.last_folder.filter(|folder| folder.is_dir());
        if let Some(language) = remembered
            .language
            .as_deref()
            .and_then(settings::language_named)
        {
            self.apply_command(Command::SetLanguage(language));
        }
    }

    /// Test seam: jobs wait at `gate` before they start (see [`JobGate`]).
    pub fn hold_jobs_at(&mut self, gate: JobGate) {
        self.worker.hold_jobs_at(gate);
    }

    fn endpoint(&self) -> Result<Endpoint, String> {
        let dir = self.dir.clone()?;
        Ok(Endpoint::in_dir(&self.key, dir)
            .with_mode(self.mode)
            .with_options(self.options.clone()))
    }

    /// The endpoint for what the user asked for (a load): its steps can be stepped through and
    /// its lock waits cancelled.
    fn job_endpoint(&self) -> Result<Endpoint, String> {
        let observer: Arc<dyn share::Observer> = self.steps.clone();
        Ok(self.endpoint()?.with_observer(observer))
    }

    /// A tag for a new job: the key and mode it runs for.
    fn tag(&mut self) -> JobTag {
        self.next_job += 1;
        JobTag {
            id: self.next_job,
            key: self.key.clone(),
            mode: self.mode,
        }
    }

    /// Whether an outcome belongs to the key and mode now shown.
    fn is_current(&self, tag: &JobTag) -> bool {
        tag.key == self.key && tag.mode == self.mode
    }

    fn max_texture_side(&self) -> usize {
        self.ctx.input(|i| i.max_texture_side)
    }

    /// Publishes the image at `path` (what the dialog, a drop or the command line give).
    pub fn load_path(&mut self, path: PathBuf) {
        let endpoint = match self.job_endpoint() {
            Ok(endpoint) => endpoint,
            Err(err) => return self.fail(err),
        };
        let (encoding, max_side, tag) = (self.encoding, self.max_texture_side(), self.tag());
        self.start(
            Job::LoadingFile,
            tr!("Loading %{path}…", path = path.display()),
        );
        self.worker.spawn(Lane::Foreground, tag, move || {
            worker::load_and_publish(endpoint, path, encoding, max_side)
        });
    }

    fn load_from_file(&mut self) {
        match &self.file_picker {
            FilePicker::Fixed(Some(path)) => self.load_path(path.clone()),
            FilePicker::Fixed(None) => {}
            FilePicker::InWindow => self.open_in_window_dialog(),
            FilePicker::Native => {
                let endpoint = match self.job_endpoint() {
                    Ok(endpoint) => endpoint,
                    Err(err) => return self.fail(err),
                };
                // The dialog future is made here (macOS wants dialogs started from the main
                // thread) and awaited on the worker, so the window keeps drawing meanwhile.
                let dialog = rfd::AsyncFileDialog::new()
                    .set_title(tr!(LOAD_FILE_LABEL))
                    .add_filter(tr!("Images"), SUPPORTED_EXTENSIONS)
                    .add_filter(tr!("All files"), &["*"])
                    .pick_file();
                let (encoding, max_side, tag) =
                    (self.encoding, self.max_texture_side(), self.tag());
                self.start(Job::LoadingFile, tr!("Choose an image…"));
                self.worker.spawn(Lane::Foreground, tag, move || {
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
        let endpoint = match self.job_endpoint() {
            Ok(endpoint) => endpoint,
            Err(err) => return self.fail(err),
        };
        let (max_side, tag) = (self.max_texture_side(), self.tag());
        self.start(Job::Fetching, tr!(FETCHING_TEXT));
        self.worker.spawn(Lane::Foreground, tag, move || {
            worker::fetch(endpoint, max_side)
        });
    }

    /// The file dialog drawn in the window, with the same image filter as the native one.
    fn open_in_window_dialog(&mut self) {
        let images = |path: &std::path::Path| {
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                SUPPORTED_EXTENSIONS
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(e))
            })
        };
        let folder = self
            .last_folder
            .clone()
            .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."));
        let mut dialog = egui_file::FileDialog::open_file()
            .id(egui::Id::unique("in-window-file-dialog"))
            .title(&tr!(LOAD_FILE_LABEL))
            .initial_path(folder)
            .show_files_filter(Box::new(images))
            .show_new_folder(false)
            .show_rename(false)
            .open_button_text(tr!("Open").into())
            .cancel_button_text(tr!("Cancel").into())
            .file_label_text(tr!("File:").into())
            .refresh_button_hover_text(tr!("Refresh").into())
            .parent_folder_button_hover_text(tr!("Parent Folder").into())
            .show_hidden_checkbox_text(tr!("Show Hidden").into())
            .keep_on_top(true);
        dialog.open();
        self.file_dialog = Some(dialog);
    }

    /// Draws the in-window dialog while it is open; a picked file is loaded.
    fn show_file_dialog(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        let Some(dialog) = &mut self.file_dialog else {
            return;
        };
        dialog.show(ctx);
        match dialog.state() {
            egui_file::State::Open => {}
            egui_file::State::Selected => {
                if let Some(path) = dialog.path().map(std::path::Path::to_path_buf) {
                    self.last_folder = path.parent().map(std::path::Path::to_path_buf);
                    commands.push(Command::LoadPath(path));
                }
                self.file_dialog = None;
            }
            egui_file::State::Cancelled | egui_file::State::Closed => self.file_dialog = None,
        }
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
        self.shown_generation = None;
        self.last_inspect = None;
        self.inspection = None;
        self.last_journal = None;
        self.timeline.clear();
        self.selected_step = None;
    }

    fn apply_command(&mut self, command: Command) {
        match command {
            Command::LoadFromFile => self.load_from_file(),
            Command::LoadPath(path) => self.load_path(path),
            Command::LoadFromMemory => self.load_from_memory(),
            Command::OpenAnotherWindow => self.open_another_window(),
            Command::StopSharing => self.stop_sharing(),
            Command::SetKey(key) => {
                self.key = key;
                self.forget_what_is_shown();
                self.ctx
                    .send_viewport_cmd(egui::ViewportCommand::Title(window_title(&self.key)));
            }
            Command::SetQtCompatible(on) => {
                self.mode = if on { self.qt_flavour } else { Mode::Native };
                self.forget_what_is_shown();
            }
            Command::SetMode(mode) => {
                if mode.is_qt() {
                    self.qt_flavour = mode;
                }
                self.mode = mode;
                self.forget_what_is_shown();
            }
            Command::SetEncoding(encoding) => self.encoding = encoding,
            Command::SetFollow(follow) => self.follow = follow,
            Command::SetInspectorOpen(open) => self.inspector_open = open,
            Command::SetLanguage(language) => {
                self.language = language;
                self.language_chosen = true;
                language.apply();
                self.ctx
                    .send_viewport_cmd(egui::ViewportCommand::Title(window_title(&self.key)));
            }
            Command::SetProtocolOpen(open) => {
                self.protocol_open = open;
                self.last_journal = None;
            }
            Command::SetStepThrough(on) => self.steps.set_enabled(on),
            Command::NextStep => self.steps.next(),
            Command::CancelJob => self.steps.cancel(),
            Command::SelectStep(step) => self.selected_step = step,
            Command::SetActualSize(actual) => self.actual_size = actual,
            Command::OpenCheck(open) => self.check.open = open,
            Command::RunCheck => self.run_check(),
            Command::CopyCheckReport => {
                if let Some(Ok(report)) = &self.check.report {
                    self.ctx.copy_text(crate::check::to_markdown(report));
                }
            }
            Command::SaveCheckReport => self.save_check_report(),
            Command::AskToCrash => self.confirm_crash = true,
            Command::CancelCrash => self.confirm_crash = false,
            Command::Crash => std::process::abort(),
        }
    }

    fn apply_outcome(&mut self, Finished { tag, outcome }: Finished) {
        let current = self.is_current(&tag);
        match outcome {
            Outcome::Cancelled => {
                self.busy = None;
                self.status = status::cancelled(self.shown.is_some());
            }
            Outcome::DialogUnavailable => {
                // From now on straight to the window's own dialog: the native one cannot open.
                self.file_picker = FilePicker::InWindow;
                self.busy = None;
                self.status = Status::Done(tr!(NO_DIALOG_TEXT));
                self.open_in_window_dialog();
            }
            Outcome::Published {
                image,
                publication,
                path,
                note,
                elapsed,
            } => {
                let header = publication.header;
                let caption = status::published_caption(&path, &publication, elapsed);
                self.status = status::published(&path, &tag.key, &header, note);
                if let Some(old) = self.publication.replace(publication) {
                    self.worker.run_quietly(move || old.withdraw());
                }
                self.shown_generation = current.then_some(header.generation);
                self.show(image, caption);
                self.busy = None;
                self.last_inspect = None;
            }
            Outcome::LoadFailed { error } => self.fail(status::load_failed(&error)),
            Outcome::Fetched {
                image,
                header,
                segment_size,
                elapsed,
                note,
            } => {
                let caption = status::fetched_caption(&header, segment_size, elapsed);
                self.shown_generation = current.then_some(header.generation);
                self.show(image, caption);
                self.shown_after_click = Some(self.busy_since);
                self.ctx.request_repaint();
                self.busy = None;
                self.status = status::fetched(&tag.key, &header, note);
            }
            Outcome::FetchFailed(error) => self.fail(status::fetch_failed(&tag.key, &error)),
            Outcome::JobFailed(what) => {
                self.probing = false;
                self.inspecting = false;
                self.reading_journal = false;
                if self.check.running {
                    self.check.running = false;
                    self.check.report = Some(Err(status::job_failed(&what)));
                }
                self.fail(status::job_failed(&what));
            }
            Outcome::Checked(report) => {
                self.check.running = false;
                self.check.report = Some(report.map_err(|err| err.to_string()));
            }
            Outcome::Inspected(result) => {
                self.inspecting = false;
                // One for another key or mode is dropped: the inspector asks again.
                if current {
                    self.inspection = Some(result.map_err(|err| err.to_string()));
                }
            }
            Outcome::Journal(lanes) => {
                self.reading_journal = false;
                if current {
                    self.timeline = lanes;
                }
            }
            Outcome::Probed(result) => {
                self.probing = false;
                if let Ok(Some(generation)) = result
                    && current
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
        shown.caption.push_str(&tr!(
            " · on screen %{ms} ms after the click",
            ms = format!("{ms:.0}")
        ));
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
                let tag = self.tag();
                self.worker.spawn(Lane::Background, tag, move || {
                    Outcome::Probed(share::newest_generation(&endpoint))
                });
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
                let tag = self.tag();
                self.worker.spawn(Lane::Background, tag, move || {
                    Outcome::Inspected(share::inspect(&endpoint))
                });
            }
            self.ctx.request_repaint_after(INSPECT_POLL);
        }
        if self.protocol_open {
            if !self.reading_journal
                && self
                    .last_journal
                    .is_none_or(|t| t.elapsed() >= JOURNAL_POLL)
                && let Ok(endpoint) = self.endpoint()
            {
                self.reading_journal = true;
                self.last_journal = Some(Instant::now());
                let tag = self.tag();
                self.worker.spawn(Lane::Background, tag, move || {
                    Outcome::Journal(share::journal(&endpoint))
                });
            }
            self.ctx.request_repaint_after(JOURNAL_POLL);
        }
    }

    /// Draws one frame: takes in what the worker finished, draws the parts, then applies what
    /// they asked for.
    fn frame(&mut self, ui: &mut egui::Ui) {
        self.note_time_on_screen();
        while let Some(finished) = self.worker.poll() {
            self.apply_outcome(finished);
        }
        self.schedule_polls();
        let mut commands = Vec::new();
        self.shortcuts_and_drops(ui.ctx(), &mut commands);

        egui::Panel::top("key-bar").show(ui, |ui| key_bar::show(self, ui, &mut commands));
        egui::Panel::bottom("status").show(ui, |ui| status::show_line(self, ui, &mut commands));
        if self.protocol_open {
            // A height of its own, so the window does not jump as steps arrive.
            egui::Panel::bottom("protocol")
                .resizable(true)
                .default_size(250.0)
                .min_size(220.0)
                .show(ui, |ui| protocol_panel::show(self, ui, &mut commands));
        }
        if self.inspector_open {
            egui::Panel::right("inspector")
                .resizable(true)
                .default_size(320.0)
                .show(ui, |ui| inspector::show(self, ui, &mut commands));
        }
        egui::CentralPanel::default().show(ui, |ui| image_view::show(self, ui, &mut commands));
        inspector::crash_confirmation(self, ui.ctx(), &mut commands);
        check_panel::show(self, ui.ctx(), &mut commands);
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
            if input.consume_shortcut(&INSPECTOR_SHORTCUT) {
                commands.push(Command::SetInspectorOpen(!self.inspector_open));
            }
            if input.consume_shortcut(&PROTOCOL_SHORTCUT) {
                commands.push(Command::SetProtocolOpen(!self.protocol_open));
            }
            if input.consume_shortcut(&STEP_THROUGH_SHORTCUT) {
                commands.push(Command::SetStepThrough(!self.steps.is_enabled()));
            }
            if self.steps.paused_before().is_some() && input.consume_shortcut(&NEXT_STEP_SHORTCUT) {
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

    /// Runs "Check this OS" on the worker; its rows arrive in `check.rows` as they finish.
    fn run_check(&mut self) {
        let dir = match self.dir.clone() {
            Ok(dir) => dir,
            Err(err) => {
                self.check.report = Some(Err(err));
                return;
            }
        };
        self.check.running = true;
        self.check.report = None;
        self.check.saved = None;
        let rows = Arc::clone(&self.check.rows);
        if let Ok(mut rows) = rows.lock() {
            rows.clear();
        }
        let (program, repaint, tag) = (self.program.clone(), self.ctx.clone(), self.tag());
        self.worker.spawn(Lane::Foreground, tag, move || {
            let report = crate::check::run(&dir, &program, |row| {
                if let Ok(mut rows) = rows.lock() {
                    rows.push(row.clone());
                }
                repaint.request_repaint();
            });
            Outcome::Checked(report)
        });
    }

    fn save_check_report(&mut self) {
        let Some(Ok(report)) = &self.check.report else {
            return;
        };
        let path = self
            .report_dir
            .join(format!("shmimage-check-{}.md", report.about.date));
        self.check.saved = Some(
            std::fs::write(&path, crate::check::to_markdown(report))
                .map(|()| path.clone())
                .map_err(|err| {
                    tr!(
                        "Could not save %{path}: %{error}.",
                        path = path.display(),
                        error = err
                    )
                }),
        );
    }

    /// Whether this window is sharing an image (so "Stop sharing" applies).
    pub fn is_sharing(&self) -> bool {
        self.publication.is_some()
    }

    fn stop_sharing(&mut self) {
        let Some(publication) = self.publication.take() else {
            return;
        };
        let key = self.key.clone();
        // Detaching takes the lock, which another process may hold: on the worker.
        self.worker.run_quietly(move || publication.withdraw());
        self.shown_generation = None;
        self.last_inspect = None;
        self.status = Status::Done(tr!(
            "Stopped sharing under key \"%{key}\" (Qt's detach): the image is gone for everyone, unless another window still has it attached.",
            key = key
        ));
    }

    fn open_another_window(&mut self) {
        let spawned = {
            let mut command = std::process::Command::new(&self.program);
            command.arg("--key").arg(&self.key);
            command.args(self.mode.facts().flag);
            if let Some([x, y]) = self.ctx.input(|i| place_beside(i.viewport())) {
                command.arg("--window-at").arg(format!("{x},{y}"));
            }
            command.spawn()
        };
        match spawned {
            // The child is not waited for: it is an independent window.
            Ok(child) => {
                self.status =
                    Status::Done(tr!("Opened another window (pid %{pid}).", pid = child.id()));
            }
            Err(err) => self.fail(tr!("Could not open another window: %{error}.", error = err)),
        }
    }
}

/// Where a second window of the same size goes: to the right of this one if the screen has room
/// there, else to its left, else nowhere in particular (the window manager decides). Side by
/// side is the demo.
fn place_beside(viewport: &egui::ViewportInfo) -> Option<[f32; 2]> {
    const GAP: f32 = 10.0;
    log::debug!(
        "placing another window beside {:?} on a screen of {:?}",
        viewport.outer_rect,
        viewport.monitor_size
    );
    let outer = viewport.outer_rect?;
    let screen = viewport.monitor_size?;
    // A small gap where there is room for one: two default windows fill a 1920 px screen.
    let room_right = screen.x - outer.right() - outer.width();
    let room_left = outer.left() - outer.width();
    if room_right >= 0.0 {
        Some([outer.right() + room_right.min(GAP), outer.top()])
    } else if room_left >= 0.0 {
        Some([
            outer.left() - outer.width() - room_left.min(GAP),
            outer.top(),
        ])
    } else {
        None
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
        if let Some(publication) = self.publication.take() {
            self.worker.run_quietly(move || publication.withdraw());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewport(left: f32, width: f32, screen: f32) -> egui::ViewportInfo {
        egui::ViewportInfo {
            outer_rect: Some(egui::Rect::from_min_size(
                egui::pos2(left, 20.0),
                egui::vec2(width, 600.0),
            )),
            monitor_size: Some(egui::vec2(screen, 1080.0)),
            ..Default::default()
        }
    }

    #[test]
    fn another_window_goes_beside_this_one_where_the_screen_has_room() {
        assert_eq!(
            place_beside(&viewport(0.0, 960.0, 2560.0)),
            Some([970.0, 20.0])
        );
        // Exactly two fit: no gap.
        assert_eq!(
            place_beside(&viewport(0.0, 960.0, 1920.0)),
            Some([960.0, 20.0])
        );
        // No room to the right: to the left.
        assert_eq!(
            place_beside(&viewport(1000.0, 900.0, 1920.0)),
            Some([90.0, 20.0])
        );
        // No room on either side, or nothing known: the window manager decides.
        assert_eq!(place_beside(&viewport(100.0, 1500.0, 1920.0)), None);
        assert_eq!(place_beside(&egui::ViewportInfo::default()), None);
    }
}
