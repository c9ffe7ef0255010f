//! The bar at the top: the key, the mode, the encoding, another window,
//! and the inspector. It wraps onto a second line in a narrow window rather than hide controls.

use super::app::{Command, MODE_LABEL, ShmImageApp};
use super::language::{Language, tr};
use crate::codec::Encoding;
use crate::protocol::Mode;

const MODE_HINT: &str = "How images are shared under the key: shmimage's own segments, which no crash \
    leaves behind, or the objects Qt's own example uses, named as Qt names them and holding the image \
    as Qt writes it (QDataStream PNG), so that Qt's example and this window exchange images.";

pub(super) fn show(app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        let key_label = ui.label(tr!("Key:"));
        let mut key = app.key.clone();
        let edit = ui
            .add(egui::TextEdit::singleline(&mut key).desired_width(200.0))
            .labelled_by(key_label.id);
        if edit.changed() {
            commands.push(Command::SetKey(key));
        }
        let mode_label = ui.label(tr!(MODE_LABEL));
        let mut chosen = app.mode;
        egui::ComboBox::from_id_salt("mode")
            .selected_text(tr!(app.mode.facts().name))
            .show_ui(ui, |ui| {
                for mode in Mode::ALL {
                    ui.add_enabled_ui(mode.is_available(), |ui| {
                        ui.selectable_value(&mut chosen, mode, tr!(mode.facts().name))
                    })
                    .response
                    .on_disabled_hover_text(tr!(
                        "Available on Linux, macOS and Windows, where it uses the objects Qt uses there"
                    ));
                }
            })
            .response
            .labelled_by(mode_label.id)
            .on_hover_text(tr!(MODE_HINT));
        if chosen != app.mode {
            commands.push(Command::SetMode(chosen));
        }
        let encoding_label = ui.label(tr!("Encoding:"));
        let chooses_encoding = app.mode.facts().encoding_is_chosen;
        let mut encoding = app.encoding;
        ui.add_enabled_ui(chooses_encoding, |ui| {
            egui::ComboBox::from_id_salt("encoding")
                .selected_text(if chooses_encoding {
                    app.encoding.to_string()
                } else {
                    tr!("Qt's PNG")
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut encoding, Encoding::Raw, tr!("raw (fastest)"));
                    ui.selectable_value(&mut encoding, Encoding::Png, tr!("png (smallest)"));
                })
                .response
                .labelled_by(encoding_label.id)
                .on_hover_text(tr!("How the image is stored in the segment"))
                .on_disabled_hover_text(tr!(
                    "Qt's example always stores a PNG (QDataStream << QImage)"
                ));
        });
        if encoding != app.encoding {
            commands.push(Command::SetEncoding(encoding));
        }
        if ui
            .button(tr!("Open another window"))
            .on_hover_text(tr!("Start a second shmimage with the same key"))
            .clicked()
        {
            commands.push(Command::OpenAnotherWindow);
        }
        super::panels::toggles(&app.panels, ui, commands);
        let mut language = app.language;
        egui::ComboBox::from_id_salt("language")
            .selected_text(language.name())
            .show_ui(ui, |ui| {
                for choice in Language::ALL {
                    ui.selectable_value(&mut language, choice, choice.name());
                }
            })
            .response
            .on_hover_text(tr!("The window's language"));
        if language != app.language {
            commands.push(Command::SetLanguage(language));
        }
    });
}
