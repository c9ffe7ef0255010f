//! "Check this OS": `shmimage check` in a window of its own. The rows arrive one by one from
//! the worker while real processes run them; the report can be copied or saved as Markdown for
//! a QA ticket.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use egui::{Color32, RichText};

use super::{Panel, PanelFacts, Place};
use crate::commands::check::{self, Report, Row, Section};
use crate::gui::app::{Command, ShmImageApp};
use crate::gui::language::tr;
use crate::sentence::Sentence;

pub const CHECK_LABEL: &str = "Check this OS…";
pub const RUN_CHECK_LABEL: &str = "Run the check";
pub const COPY_REPORT_LABEL: &str = "Copy Markdown";
pub const SAVE_REPORT_LABEL: &str = "Save Markdown";
pub const COMPARE_REPORT_LABEL: &str = "Compare with another report…";
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
    /// Another machine's report (`check --json`), shown beside this one's, or why it was not.
    pub compared: Option<Result<(PathBuf, check::Saved), String>>,
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
                "Runs the README's lifetime table here, with real processes, on your segment directory, under keys of its own (a running demo is not disturbed); then measures this machine's boundaries: name and size limits, containers and sandboxes, other users."
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
                    let count = |word: &str| {
                        report
                            .rows
                            .iter()
                            .filter(|r| check::verdict(r) == word)
                            .count()
                    };
                    let failed = count("FAIL");
                    let text = tr!(
                        "%{passed} passed, %{measured} measured, %{failed} failed",
                        passed = count("pass"),
                        measured = count("info"),
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
            // With another machine's report open, its rows stand beside this one's instead.
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| match &panel.compared {
                    Some(Ok((_, there))) => side_by_side(ui, panel, there),
                    _ => table(ui, &panel.rows()),
                });
            if let Some(Ok(report)) = &panel.report {
                footer(ui, panel, report, commands);
            }
            compared(ui, panel, commands);
        });
    if !open {
        commands.push(Command::SetPanelOpen(NAME, false));
    }
}

/// What the report says of the machine, and its Copy and Save buttons.
fn footer(
    ui: &mut egui::Ui,
    panel: &CheckPanel,
    report: &check::Report,
    commands: &mut Vec<Command>,
) {
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

/// The button that asks for another machine's report, and which one is open (or why not).
fn compared(ui: &mut egui::Ui, panel: &CheckPanel, commands: &mut Vec<Command>) {
    ui.separator();
    ui.horizontal(|ui| {
        if ui
            .button(tr!(COMPARE_REPORT_LABEL))
            .on_hover_text(tr!(
                "A report another machine saved with shmimage check --json, beside this machine's rows"
            ))
            .clicked()
        {
            commands.push(Command::PickReportToCompare);
        }
        match &panel.compared {
            Some(Ok((path, _))) => {
                ui.label(path.display().to_string());
            }
            Some(Err(err)) => {
                ui.colored_label(Color32::from_rgb(220, 60, 60), err);
            }
            None => {}
        }
    });
}

/// This machine's rows (so far) with the other report's beside them, one scenario a line.
fn side_by_side(ui: &mut egui::Ui, panel: &CheckPanel, there: &check::Saved) {
    // The finished report's rows as they are; while the check runs, a copy of those so far.
    let so_far;
    let here: &[Row] = match &panel.report {
        Some(Ok(report)) => &report.rows,
        _ => {
            so_far = panel.rows();
            &so_far
        }
    };
    let scenario_width = 200.0;
    let observed_width = ((ui.available_width() - scenario_width) / 2.0 - 16.0).max(160.0);
    let cell = |ui: &mut egui::Ui, side: &Option<(String, bool)>| {
        ui.set_width(observed_width);
        match side {
            Some((observed, true)) => ui.add(egui::Label::new(observed.as_str()).wrap()),
            Some((observed, false)) => ui.add(
                egui::Label::new(
                    RichText::new(format!("{}: {observed}", tr!("FAIL")))
                        .color(Color32::from_rgb(220, 60, 60)),
                )
                .wrap(),
            ),
            None => ui.label("—"),
        };
    };
    egui::Grid::new("check-compared")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            ui.label(RichText::new(tr!("scenario")).strong());
            ui.label(RichText::new(tr!("this machine")).strong());
            ui.label(RichText::new(there.os.as_str()).strong());
            ui.end_row();
            let mut section = None;
            for line in check::side_by_side(here, there, Sentence::in_current_language) {
                heading(ui, &mut section, line.section);
                ui.vertical(|ui| {
                    ui.set_width(scenario_width);
                    ui.label(RichText::new(tr!(line.rules.as_str())).small());
                    ui.add(egui::Label::new(tr!(line.scenario.as_str())).wrap());
                });
                ui.vertical(|ui| cell(ui, &line.here));
                ui.vertical(|ui| cell(ui, &line.there));
                ui.end_row();
            }
        });
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
            let mut section = None;
            for row in rows {
                heading(ui, &mut section, row.section);
                ui.label(tr!(row.column.name()));
                ui.label(tr!(row.scenario)).on_hover_text(tr!(row.expected));
                let text = check::verdict(row);
                let color = match text {
                    "pass" => Color32::from_rgb(80, 180, 90),
                    "info" => Color32::from_rgb(90, 140, 220),
                    _ => Color32::from_rgb(220, 60, 60),
                };
                ui.label(RichText::new(tr!(text)).color(color).strong());
                ui.add(
                    egui::Label::new(format!(
                        "{} ({} ms)",
                        check::tidy(&row.observed.in_current_language()),
                        row.took.as_millis()
                    ))
                    .wrap(),
                );
                ui.end_row();
            }
        });
}

/// A section's heading, as a row of its own, where the rows enter a new section.
fn heading(ui: &mut egui::Ui, shown: &mut Option<Section>, section: Section) {
    if *shown != Some(section) {
        *shown = Some(section);
        ui.label(RichText::new(tr!(section.heading())).strong().heading());
        ui.end_row();
    }
}
