//! "Check this OS": `shmimage check` in a window of its own. The rows arrive one by one from
//! the worker while real processes run them; the report can be copied or saved as Markdown for
//! a QA ticket.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use egui::{Color32, RichText};

use super::{Panel, PanelFacts, Place};
use crate::commands::check::{self, Report, Row};
use crate::gui::app::{Command, ShmImageApp};
use crate::gui::language::tr;

pub const CHECK_LABEL: &str = "Check this OS…";
pub const RUN_CHECK_LABEL: &str = "Run the check";
pub const COPY_REPORT_LABEL: &str = "Copy Markdown";
pub const SAVE_REPORT_LABEL: &str = "Save Markdown";
/// Its name, for the inspector's button that opens it.
pub(crate) const NAME: &str = "check";

const FACTS: PanelFacts = PanelFacts {
    name: NAME,
    toggle: None,
    hint: "",
    shortcut: None,
    place: Place::Window,
    remembered: false,
};

/// The panel's state: open or not, the rows so far, and the finished report.
#[derive(Default)]
pub struct CheckPanel {
    pub open: bool,
    pub running: bool,
    /// Filled by the worker as rows finish, read by each frame.
    pub rows: Arc<Mutex<Vec<Row>>>,
    pub report: Option<Result<Report, String>>,
    /// What became of the last "Save Markdown": the path, or why not.
    pub saved: Option<Result<PathBuf, String>>,
}

impl CheckPanel {
    pub fn rows(&self) -> Vec<Row> {
        self.rows
            .lock()
            .map(|rows| rows.clone())
            .unwrap_or_default()
    }
}

impl Panel for CheckPanel {
    fn facts(&self) -> &'static PanelFacts {
        &FACTS
    }

    fn is_open(&self) -> bool {
        self.open
    }

    fn set_open(&mut self, open: bool) {
        self.open = open;
    }

    fn ui(&mut self, _app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        show(self, ui.ctx(), commands);
    }
}

fn show(panel: &CheckPanel, ctx: &egui::Context, commands: &mut Vec<Command>) {
    let mut open = true;
    egui::Window::new(tr!("Check this OS"))
        .open(&mut open)
        .default_width(640.0)
        .show(ctx, |ui| {
            ui.label(tr!(
                "Runs the README's lifetime table here, with real processes, on your segment directory, under keys of its own (a running demo is not disturbed)."
            ));
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!panel.running, egui::Button::new(tr!(RUN_CHECK_LABEL)))
                    .clicked()
                {
                    commands.push(Command::RunCheck);
                }
                let rows = panel.rows();
                if panel.running {
                    ui.spinner();
                    ui.label(tr!(
                        "row %{row} of %{rows}",
                        row = rows.len() + 1,
                        rows = check::row_count()
                    ));
                }
                if let Some(Ok(report)) = &panel.report {
                    let failed = report.rows.iter().filter(|r| !r.passed).count();
                    let text = tr!(
                        "%{passed} passed, %{failed} failed",
                        passed = report.rows.len() - failed,
                        failed = failed
                    );
                    let color = if failed == 0 {
                        Color32::from_rgb(80, 180, 90)
                    } else {
                        Color32::from_rgb(220, 60, 60)
                    };
                    ui.label(RichText::new(text).color(color).strong());
                }
            });
            if let Some(Err(err)) = &panel.report {
                ui.colored_label(Color32::from_rgb(220, 60, 60), err);
            }
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| table(ui, &panel.rows()));
            if let Some(Ok(report)) = &panel.report {
                ui.label(format!(
                    "{} · {} · {} on {} · shmimage {} · {}",
                    report.about.os,
                    report.about.arch,
                    report.about.dir.display(),
                    report.about.filesystem,
                    report.about.version,
                    report.about.date
                ));
                ui.horizontal(|ui| {
                    if ui.button(tr!(COPY_REPORT_LABEL)).clicked() {
                        commands.push(Command::CopyCheckReport);
                    }
                    if ui.button(tr!(SAVE_REPORT_LABEL)).clicked() {
                        commands.push(Command::SaveCheckReport);
                    }
                    match &panel.saved {
                        Some(Ok(path)) => {
                            ui.label(tr!("Saved to %{path}", path = path.display()));
                        }
                        Some(Err(err)) => {
                            ui.colored_label(Color32::from_rgb(220, 60, 60), err);
                        }
                        None => {}
                    }
                });
            }
        });
    if !open {
        commands.push(Command::SetPanelOpen(NAME, false));
    }
}

fn table(ui: &mut egui::Ui, rows: &[Row]) {
    egui::Grid::new("check-rows")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for header in ["rules", "scenario", "result", "observed"] {
                ui.label(RichText::new(tr!(header)).strong());
            }
            ui.end_row();
            for row in rows {
                ui.label(row.column.name());
                ui.label(row.scenario).on_hover_text(row.expected);
                let (text, color) = if row.passed {
                    ("pass", Color32::from_rgb(80, 180, 90))
                } else {
                    ("FAIL", Color32::from_rgb(220, 60, 60))
                };
                ui.label(RichText::new(tr!(text)).color(color).strong());
                ui.add(
                    egui::Label::new(format!("{} ({} ms)", row.observed, row.took.as_millis()))
                        .wrap(),
                );
                ui.end_row();
            }
        });
}
