//! The inspector panel: what is shared under the key, in the rows the protocol layer words (the
//! same as `shmimage info`), the mode's lifetime rules, and "Simulate a crash…".

use std::any::Any;
use std::time::Duration;

use egui::{Color32, RichText};

use super::{Panel, PanelFacts, Place, Poller, polling};
use crate::gui::app::{Command, INSPECTOR_SHORTCUT, ShmImageApp};
use crate::gui::language::tr;
use crate::protocol::{self, Endpoint, Inspection};

/// How often it looks at the key while open.
const EVERY: Duration = Duration::from_secs(1);

const FACTS: PanelFacts = PanelFacts {
    name: "inspector",
    toggle: Some("Inspector"),
    hint: "%{shortcut}",
    shortcut: Some(INSPECTOR_SHORTCUT),
    place: Place::Right,
    remembered: true,
};

/// The inspector's state: what it last saw under the key, and the crash confirmation.
#[derive(Default)]
pub struct Inspector {
    pub open: bool,
    pub inspection: Option<Result<Inspection, String>>,
    /// "Simulate a crash…" asks first.
    pub(crate) confirm_crash: bool,
    poller: Option<Poller>,
}

/// The inspector's rows, in the words the window shows.
fn inspect(endpoint: &Endpoint) -> Result<Inspection, String> {
    protocol::inspect(endpoint).map_err(|err| err.to_string())
}

impl Panel for Inspector {
    fn facts(&self) -> &'static PanelFacts {
        &FACTS
    }

    fn is_open(&self) -> bool {
        self.open
    }

    fn set_open(&mut self, open: bool) {
        self.open = open;
    }

    fn keep_polling(&mut self, app: &ShmImageApp) {
        self.poller = polling::keep(
            self.poller.take(),
            self.open,
            app,
            FACTS.name,
            EVERY,
            inspect,
            Err,
        );
    }

    fn forget(&mut self) {
        self.inspection = None;
    }

    fn look_again_now(&self) {
        if let Some(poller) = &self.poller {
            poller.look_again_now();
        }
    }

    fn seen(&mut self, seen: Box<dyn Any + Send>) {
        if let Ok(inspection) = seen.downcast::<Result<Inspection, String>>() {
            self.inspection = Some(*inspection);
        }
    }

    fn ui(&mut self, app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        self.draw(app, ui, commands);
        self.crash_confirmation(ui.ctx(), commands);
    }
}

impl Inspector {
    fn draw(&mut self, app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.heading(tr!("Segment inspector"));
            if ui
                .button(tr!(super::check::CHECK_LABEL))
                .on_hover_text(tr!(
                    "Run the lifetime table on this machine with real processes"
                ))
                .clicked()
            {
                commands.push(Command::SetPanelOpen(super::check::NAME, true));
            }
        });
        egui::ScrollArea::vertical().show(ui, |ui| {
            // First: it decides what the rows below describe, and stays put as they change.
            native_key(app, ui, commands);
            ui.separator();
            match &self.inspection {
                None => {
                    ui.spinner();
                }
                Some(Err(err)) => {
                    ui.colored_label(Color32::from_rgb(220, 60, 60), err);
                }
                Some(Ok(inspection)) => grid(ui, inspection),
            }
            ui.separator();
            ui.label(RichText::new(tr!("Lifetime")).strong());
            if app.native_key_in_use().is_some() {
                ui.label(tr!(NATIVE_KEY_LIFETIME));
            } else {
                ui.label(tr!(app.mode.facts().lifetime));
            }
            ui.separator();
            if ui
                .button(tr!("Simulate a crash…"))
                .on_hover_text(tr!("Abort this process, to watch the other window cope"))
                .clicked()
            {
                self.confirm_crash = true;
            }
        });
    }
}

pub const NATIVE_KEY_LABEL: &str = "Native key";
/// A native key's object lives by its OS's rules, not the mode's.
pub const NATIVE_KEY_LIFETIME: &str = "An object under a native key lives as its OS keeps it, not as shmimage's segments do: on Linux and macOS until the program that made it removes it (a crash leaves it behind), on Windows until the last process holding it closes it. shmimage only reads it, and never removes it.";
pub const RAW_SHAPE_LABEL: &str = "Raw shape";

/// Qt's setNativeKey: read an object another framework made, by its exact name.
fn native_key(app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    ui.label(RichText::new(tr!("Other frameworks")).strong());
    ui.label(tr!(
        "To show what Python, OpenCV or any program put in shared memory, give its exact name (Qt's setNativeKey). There is no lock then, as with Qt: a read can tear, and shmimage compares samples taken before and after its copy to notice."
    ));
    egui::Grid::new("native-key").num_columns(2).show(ui, |ui| {
        let label = ui.label(tr!(NATIVE_KEY_LABEL));
        let mut name = app.native_key.clone();
        if ui
            .add(
                egui::TextEdit::singleline(&mut name)
                    .hint_text("psm_frames")
                    .desired_width(160.0),
            )
            .labelled_by(label.id)
            .changed()
        {
            commands.push(Command::SetNativeKey(name));
        }
        ui.end_row();
        let label = ui.label(tr!(RAW_SHAPE_LABEL));
        let mut shape = app.raw_shape.clone();
        if ui
            .add(
                egui::TextEdit::singleline(&mut shape)
                    .hint_text("640x480:bgr8")
                    .desired_width(160.0),
            )
            .labelled_by(label.id)
            .on_hover_text(tr!(
                "For headerless pixels: WIDTHxHEIGHT:FORMAT[:STRIDE], FORMAT one of %{formats}",
                formats = crate::codec::raw::PixelFormat::names()
            ))
            .changed()
        {
            commands.push(Command::SetRawShape(shape));
        }
        ui.end_row();
    });
}

fn grid(ui: &mut egui::Ui, inspection: &Inspection) {
    egui::Grid::new("inspection")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for row in &inspection.rows {
                let indent = "  ".repeat(usize::from(row.depth));
                ui.label(format!("{indent}{}", tr!(row.name)));
                ui.add(
                    egui::Label::new(RichText::new(row.value.in_current_language()).monospace())
                        .wrap(),
                );
                ui.end_row();
            }
        });
}

impl Inspector {
    fn crash_confirmation(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        if !self.confirm_crash {
            return;
        }
        let modal = egui::Modal::new(egui::Id::unique("confirm-crash")).show(ctx, |ui| {
        ui.heading(tr!("Simulate a crash?"));
        ui.label(tr!(
            "This window's process will abort at once, like a crash: it gets no chance to clean up. The other windows keep working, and what this process shared disappears."
        ));
        ui.horizontal(|ui| {
            if ui.button(tr!("Crash now")).clicked() {
                commands.push(Command::Crash);
            }
            if ui.button(tr!("Cancel")).clicked() {
                self.confirm_crash = false;
            }
        });
    });
        if modal.should_close() {
            self.confirm_crash = false;
        }
    }
}
