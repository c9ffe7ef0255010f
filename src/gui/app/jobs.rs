//! What the user asks the window for, started on the worker: load a file and publish it, load
//! from shared memory, "Check this OS", and Stop sharing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::{
    DIALOG_FAILED_WITHIN, FETCHING_TEXT, FilePicker, Job, LOAD_FILE_LABEL, SAVE_AS_LABEL,
    ShmImageApp,
};
use crate::codec::{Encoding, SUPPORTED_EXTENSIONS};
use crate::gui::language::tr;
use crate::gui::panels::check::COMPARE_REPORT_LABEL;
use crate::gui::save::{self, Original};
use crate::gui::status::Status;
use crate::gui::worker::{self, DialogFor, Lane, Outcome};
use crate::protocol::Endpoint;

fn save_outcome(original: &Original, path: &std::path::Path) -> Outcome {
    match save::save(original, path) {
        Ok((path, note)) => Outcome::Saved { path, note },
        Err(sentence) => Outcome::SaveFailed(sentence),
    }
}

impl ShmImageApp {
    /// Publishes the image at `path` (what the dialog, a drop or the command line give).
    pub fn load_path(&mut self, path: PathBuf) {
        // A new load replaces an animation being played.
        self.sharing.playing = None;
        self.start_loading(path, worker::load_and_publish);
    }

    /// Publishes the file this window shares again, after it changed on disk.
    pub(super) fn republish(&mut self, path: PathBuf) {
        self.start_loading(path, worker::republish);
    }

    fn start_loading(
        &mut self,
        path: PathBuf,
        job: fn(Endpoint, PathBuf, Encoding, usize) -> Outcome,
    ) {
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
            job(endpoint, path, encoding, max_side)
        });
    }

    pub(super) fn load_from_file(&mut self) {
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
                    .set_directory(self.start_folder())
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
                            Outcome::DialogUnavailable(DialogFor::Load)
                        }
                        None => Outcome::Cancelled,
                    }
                });
            }
        }
    }

    pub(super) fn load_from_memory(&mut self) {
        let endpoint = match self.job_endpoint() {
            Ok(endpoint) => endpoint,
            Err(err) => return self.fail(err),
        };
        let (max_side, tag) = (self.max_texture_side(), self.tag());
        self.start(Job::Fetching, tr!(FETCHING_TEXT));
        self.worker.spawn(Lane::Foreground, tag, move || {
            worker::fetch(endpoint, max_side, false)
        });
    }

    /// Asks for another machine's report (the native dialog, else the window's own), then reads
    /// it on the worker.
    pub(super) fn pick_report_to_compare(&mut self) {
        match &self.file_picker {
            FilePicker::Fixed(Some(path)) => return self.compare_report(path.clone()),
            FilePicker::Fixed(None) => return,
            FilePicker::InWindow => return self.open_in_window_report_dialog(),
            FilePicker::Native => {}
        }
        let dialog = rfd::AsyncFileDialog::new()
            .set_title(tr!(COMPARE_REPORT_LABEL))
            .add_filter(tr!("Check reports (check --json)"), &["json"])
            .add_filter(tr!("All files"), &["*"]);
        let dialog = dialog.set_directory(self.start_folder()).pick_file();
        self.worker.spawn(Lane::Foreground, self.tag(), move || {
            let opened = Instant::now();
            match pollster::block_on(dialog) {
                Some(file) => read_report(file.path().to_path_buf()),
                None if opened.elapsed() < DIALOG_FAILED_WITHIN => {
                    Outcome::DialogUnavailable(DialogFor::Report)
                }
                None => Outcome::Cancelled,
            }
        });
    }

    /// Reads the report at `path` on the worker: it may be on a slow share.
    pub(super) fn compare_report(&mut self, path: PathBuf) {
        self.worker
            .spawn(Lane::Foreground, self.tag(), move || read_report(path));
    }

    /// Runs a lesson on the worker, with real processes.
    pub(super) fn run_lesson(&mut self, index: usize) {
        let lessons = &mut self.panels.lessons;
        let dir = match self.dir.clone() {
            Ok(dir) => dir,
            Err(err) => {
                lessons.found(Err(err));
                return;
            }
        };
        lessons.found_nothing_yet();
        lessons.running = true;
        let (program, tag) = (self.program.clone(), self.tag());
        self.worker.spawn(Lane::Foreground, tag, move || {
            Outcome::LessonRan(
                index,
                crate::commands::check::run_lesson(&dir, &program, index),
            )
        });
    }

    /// Runs "Check this OS" on the worker; its rows arrive in `check.rows` as they finish.
    pub(super) fn run_check(&mut self) {
        let dir = match self.dir.clone() {
            Ok(dir) => dir,
            Err(err) => {
                self.panels.check.report = Some(Err(err));
                return;
            }
        };
        self.panels.check.running = true;
        self.panels.check.report = None;
        self.panels.check.saved = None;
        let rows = Arc::clone(&self.panels.check.rows);
        if let Ok(mut rows) = rows.lock() {
            rows.clear();
        }
        let (program, repaint, tag) = (self.program.clone(), self.ctx.clone(), self.tag());
        self.worker.spawn(Lane::Foreground, tag, move || {
            let report = crate::commands::check::run(&dir, &program, |row| {
                if let Ok(mut rows) = rows.lock() {
                    rows.push(row.clone());
                }
                repaint.request_repaint();
            });
            Outcome::Checked(report)
        });
    }

    pub(super) fn save_check_report(&mut self) {
        let Some(Ok(report)) = &self.panels.check.report else {
            return;
        };
        let path = self
            .report_dir
            .join(format!("shmimage-check-{}.md", report.about.date));
        self.panels.check.saved = Some(
            // Never through a link planted at that predictable name.
            crate::output::replace_file(&path, |file| {
                std::io::Write::write_all(
                    file,
                    crate::commands::check::to_markdown(report).as_bytes(),
                )
            })
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

    /// Save as…: asks where (the native dialog, else the window's own), then writes the image.
    pub(super) fn save_as(&mut self) {
        let Some(shown) = &self.viewer.shown else {
            return;
        };
        let suggested = save::suggested_file_name(&self.key);
        match &self.save_picker {
            FilePicker::Fixed(Some(path)) => self.save_to(path.clone()),
            FilePicker::Fixed(None) => {}
            FilePicker::InWindow => self.open_in_window_save_dialog(suggested),
            FilePicker::Native => {
                let dialog = rfd::AsyncFileDialog::new()
                    .set_title(tr!(SAVE_AS_LABEL))
                    .set_file_name(suggested)
                    .add_filter("PNG", &["png"])
                    .add_filter("JPEG", &["jpg", "jpeg"])
                    .add_filter("WebP", &["webp"])
                    .add_filter(tr!("All files"), &["*"]);
                let dialog = dialog.set_directory(self.start_folder()).save_file();
                let (original, tag) = (shown.original.clone(), self.tag());
                self.start(Job::Saving, tr!("Choose where to save the image…"));
                self.worker.spawn(Lane::Foreground, tag, move || {
                    let opened = Instant::now();
                    match pollster::block_on(dialog) {
                        Some(file) => save_outcome(&original, file.path()),
                        None if opened.elapsed() < DIALOG_FAILED_WITHIN => {
                            Outcome::DialogUnavailable(DialogFor::Save)
                        }
                        None => Outcome::Cancelled,
                    }
                });
            }
        }
    }

    /// Writes the shown image to `path` (what a dialog gave).
    pub fn save_to(&mut self, path: PathBuf) {
        let Some(shown) = &self.viewer.shown else {
            return;
        };
        let (original, tag) = (shown.original.clone(), self.tag());
        self.start(Job::Saving, tr!("Saving %{path}…", path = path.display()));
        self.worker.spawn(Lane::Foreground, tag, move || {
            save_outcome(&original, &path)
        });
    }

    pub(super) fn stop_sharing(&mut self) {
        self.sharing.playing = None;
        let Some(publication) = self.sharing.publication.take() else {
            return;
        };
        let key = self.key.clone();
        // Detaching takes the lock, which another process may hold: on the worker.
        self.worker.run_quietly(move || publication.withdraw());
        self.sharing.shown_generation = None;
        self.look_again_now();
        self.status = Status::Done(tr!(
            "Stopped sharing under key \"%{key}\" (Qt's detach): the image is gone for everyone, unless another window still has it attached.",
            key = key
        ));
    }
}

fn read_report(path: PathBuf) -> Outcome {
    Outcome::ReportRead(
        crate::commands::check::read_report(&path)
            .map(|report| (path, report))
            .map_err(|err| err.to_string()),
    )
}
