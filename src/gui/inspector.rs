//! The inspector panel: what is shared under the key, in the rows the protocol layer words (the
//! same as `shmimage info`), the mode's lifetime rules, and "Simulate a crash…".

use egui::{Color32, RichText};

use super::app::{Command, ShmImageApp};
use super::language::tr;
use crate::protocol::Inspection;

pub(super) fn show(app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.heading(tr!("Segment inspector"));
        if ui
            .button(tr!(super::check_panel::CHECK_LABEL))
            .on_hover_text(tr!(
                "Run the lifetime table on this machine with real processes"
            ))
            .clicked()
        {
            commands.push(Command::OpenCheck(true));
        }
    });
    egui::ScrollArea::vertical().show(ui, |ui| {
        // First: it decides what the rows below describe, and stays put as they change.
        native_key(app, ui, commands);
        ui.separator();
        match &app.inspection {
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
            commands.push(Command::AskToCrash);
        }
    });
}

pub const NATIVE_KEY_LABEL: &str = "Native key";
/// A native key's object lives by its OS's rules, not the mode's.
pub const NATIVE_KEY_LIFETIME: &str = "An object under a native key lives as its OS keeps it, not as shmimage's segments do: on Linux and macOS until the program that made it removes it (a crash leaves it behind), on Windows until the last process holding it closes it. shmimage only reads it, and never removes it.";
pub const RAW_SHAPE_LABEL: &str = "Raw shape";

/// Qt's setNativeKey: read an object another framework made, by its exact name.
fn native_key(app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    ui.label(RichText::new(tr!("Other frameworks")).strong());
    ui.label(tr!(
        "To show what Python, OpenCV or any program put in shared memory, give its exact name (Qt's setNativeKey). There is no lock then, as with Qt: a read can tear, and shmimage reads twice to notice."
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
                ui.add(egui::Label::new(RichText::new(&row.value).monospace()).wrap());
                ui.end_row();
            }
        });
}

pub(super) fn crash_confirmation(
    app: &ShmImageApp,
    ctx: &egui::Context,
    commands: &mut Vec<Command>,
) {
    if !app.confirm_crash {
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
                commands.push(Command::CancelCrash);
            }
        });
    });
    if modal.should_close() {
        commands.push(Command::CancelCrash);
    }
}
