//! What a desktop app is expected to do besides the demo: remember its settings between runs,
//! offer a file dialog where the system has none, and open a second window beside the first.

use std::path::PathBuf;

use super::{Command, LOAD_FILE_LABEL, SAVE_AS_LABEL, ShmImageApp};
use crate::codec::SUPPORTED_EXTENSIONS;
use crate::gui::language::tr;
use crate::gui::panels::check::COMPARE_REPORT_LABEL;
use crate::gui::settings::{self, Settings};
use crate::gui::status::Status;
use crate::gui::worker::DialogFor;

impl ShmImageApp {
    /// What to remember of this window (see `settings.rs`).
    pub fn settings(&self) -> Settings {
        Settings {
            key: Some(self.key.clone()),
            mode: Some(self.mode.facts().journal_tag.to_owned()),
            encoding: Some(self.encoding.to_string()),
            follow: self.sharing.follow,
            republish_on_change: self.sharing.republish_on_change,
            open_panels: self
                .panels
                .each_ref()
                .into_iter()
                .filter(|panel| panel.facts().remembered && panel.is_open())
                .map(|panel| panel.facts().name.to_owned())
                .collect(),
            inspector_open: false,
            protocol_open: false,
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
        if !self.command_line.mode
            && let Some(mode) = remembered.mode.as_deref().and_then(settings::mode_named)
        {
            self.mode = mode;
        }
        if let Some(encoding) = remembered
            .encoding
            .as_deref()
            .and_then(settings::encoding_named)
        {
            self.encoding = encoding;
        }
        self.sharing.republish_on_change = remembered.republish_on_change;
        if !self.command_line.follow {
            self.sharing.follow = remembered.follow;
        }
        let older = [
            ("inspector", remembered.inspector_open),
            ("protocol", remembered.protocol_open),
        ];
        for panel in self.panels.each() {
            let name = panel.facts().name;
            if panel.facts().remembered {
                let was_open = remembered.open_panels.iter().any(|open| open == name)
                    || older.contains(&(name, true));
                panel.set_open(was_open);
            }
        }
        self.last_folder = remembered.last_folder.filter(|folder| folder.is_dir());
        if let Some(language) = remembered
            .language
            .as_deref()
            .and_then(settings::language_named)
        {
            self.apply_command(Command::SetLanguage(language));
        }
    }

    /// Where a file dialog opens (see [`start_folder`]).
    pub(super) fn start_folder(&self) -> PathBuf {
        start_folder(
            self.last_folder.clone(),
            std::env::current_dir().ok(),
            std::env::var_os("HOME").map(PathBuf::from),
        )
    }

    /// The file dialog drawn in the window, with the same image filter as the native one.
    pub(super) fn open_in_window_dialog(&mut self) {
        let dialog = egui_file::FileDialog::open_file()
            .title(&tr!(LOAD_FILE_LABEL))
            .open_button_text(tr!("Open").into());
        self.open_dialog(DialogFor::Load, dialog);
    }

    /// The window's own Save as… dialog, suggesting `file_name`.
    pub(super) fn open_in_window_save_dialog(&mut self, file_name: String) {
        let dialog = egui_file::FileDialog::save_file()
            .title(&tr!(SAVE_AS_LABEL))
            .default_filename(file_name)
            .save_button_text(tr!("Save").into());
        self.open_dialog(DialogFor::Save, dialog);
    }

    /// The window's own dialog for another machine's report.
    pub(super) fn open_in_window_report_dialog(&mut self) {
        let dialog = egui_file::FileDialog::open_file()
            .title(&tr!(COMPARE_REPORT_LABEL))
            .open_button_text(tr!("Open").into());
        self.open_dialog(DialogFor::Report, dialog);
    }

    /// What the in-window dialogs share: images only (reports only, for a report), in the last
    /// folder, in the window's language.
    fn open_dialog(&mut self, purpose: DialogFor, dialog: egui_file::FileDialog) {
        let extensions: &'static [&'static str] = match purpose {
            DialogFor::Report => &["json"],
            DialogFor::Load | DialogFor::Save => SUPPORTED_EXTENSIONS,
        };
        let images = move |path: &std::path::Path| {
            path.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.iter().any(|s| s.eq_ignore_ascii_case(e)))
        };
        let folder = self.start_folder();
        let mut dialog = dialog
            .id(egui::Id::unique("in-window-file-dialog"))
            .initial_path(folder)
            .show_files_filter(Box::new(images))
            .show_new_folder(false)
            .show_rename(false)
            .cancel_button_text(tr!("Cancel").into())
            .file_label_text(tr!("File:").into())
            .refresh_button_hover_text(tr!("Refresh").into())
            .parent_folder_button_hover_text(tr!("Parent Folder").into())
            .show_hidden_checkbox_text(tr!("Show Hidden").into())
            .keep_on_top(true);
        dialog.open();
        self.file_dialog = Some((purpose, dialog));
    }

    /// Draws the in-window dialog while it is open; a picked file is loaded, or saved to.
    pub(super) fn show_file_dialog(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        let Some((purpose, dialog)) = &mut self.file_dialog else {
            return;
        };
        dialog.show(ctx);
        match dialog.state() {
            egui_file::State::Open => {}
            egui_file::State::Selected => {
                if let Some(path) = dialog.path().map(std::path::Path::to_path_buf) {
                    self.last_folder = path.parent().map(std::path::Path::to_path_buf);
                    commands.push(match purpose {
                        DialogFor::Load => Command::LoadPath(path),
                        DialogFor::Save => Command::SavePath(path),
                        DialogFor::Report => Command::CompareReport(path),
                    });
                }
                self.file_dialog = None;
            }
            egui_file::State::Cancelled | egui_file::State::Closed => self.file_dialog = None,
        }
    }

    pub(super) fn open_another_window(&mut self) {
        let spawned = {
            let mut command = crate::child::command(&self.program);
            command.arg("--key").arg(&self.key);
            command.args(self.mode.args());
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

/// Where a file dialog opens: the last folder used; else, as Qt's dialog does, the working
/// directory (after `cargo run --release`, the project, with `assets/sample.png`); else home.
fn start_folder(last: Option<PathBuf>, working: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    last.into_iter()
        .chain(working)
        .find(|folder| folder.is_dir())
        .or(home)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where a second window of the same size goes: to the right of this one if the screen has room
/// there, else to its left, else nowhere in particular (the window manager decides). Side by
/// side is the demo.
fn place_beside(viewport: &egui::ViewportInfo) -> Option<[f32; 2]> {
    log::debug!(
        "placing another window beside {:?} on a screen of {:?}",
        viewport.outer_rect,
        viewport.monitor_size
    );
    let outer = viewport.outer_rect?;
    place_beside_rect(outer, outer.size(), viewport.monitor_size?)
}

/// Where a window of `size` goes beside the window at `other` on a screen of `screen`: to its
/// right if there is room, else to its left, else nowhere in particular.
pub(super) fn place_beside_rect(
    other: egui::Rect,
    size: egui::Vec2,
    screen: egui::Vec2,
) -> Option<[f32; 2]> {
    const GAP: f32 = 10.0;
    // A small gap where there is room for one: two default windows fill a 1920 px screen.
    let room_right = screen.x - other.right() - size.x;
    let room_left = other.left() - size.x;
    if room_right >= 0.0 {
        Some([other.right() + room_right.min(GAP), other.top()])
    } else if room_left >= 0.0 {
        Some([other.left() - size.x - room_left.min(GAP), other.top()])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dialog_opens_where_it_was_last_else_where_qts_would() {
        let here = std::env::temp_dir();
        let gone = here.join("shmimage-no-such-folder");
        let home = PathBuf::from("/home/someone");
        assert_eq!(
            start_folder(Some(here.clone()), None, Some(home.clone())),
            here
        );
        assert_eq!(
            start_folder(Some(gone.clone()), Some(here.clone()), None),
            here
        );
        assert_eq!(start_folder(None, Some(gone), Some(home.clone())), home);
        assert_eq!(start_folder(None, None, None), PathBuf::from("."));
    }

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
