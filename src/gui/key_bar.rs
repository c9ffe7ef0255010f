//! The bar at the top: the key, the mode (native or one of Qt's), the encoding, another window,
//! and the inspector. It wraps onto a second line in a narrow window rather than hide controls.

use super::app::{Command, INSPECTOR_SHORTCUT, PROTOCOL_SHORTCUT, QT_MODE_LABEL, ShmImageApp};
use super::language::{Language, tr};
use crate::codec::Encoding;
use crate::protocol::Mode;

const QT_MODE_HINT: &str = "Exchange images with Qt's own shared-memory example: a System V segment and \
    semaphore named as Qt names them, holding the image as Qt writes it (QDataStream PNG).";

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
        let mut qt = app.mode.is_qt();
        let toggle = ui
            .add_enabled(
                Mode::Qt.is_available(),
                egui::Checkbox::new(&mut qt, tr!(QT_MODE_LABEL)),
            )
            .on_hover_text(tr!(QT_MODE_HINT))
            .on_disabled_hover_text(tr!(
                "Qt-compatible mode (System V shared memory) is available on Linux only"
            ));
        if toggle.changed() {
            commands.push(Command::SetQtCompatible(qt));
        }
        if app.mode.is_qt() {
            let mut chosen = app.mode;
            egui::ComboBox::from_id_salt("qt-flavour")
                .selected_text(tr!(app.mode.facts().name))
                .show_ui(ui, |ui| {
                    for flavour in [Mode::Qt, Mode::Qt6] {
                        ui.selectable_value(&mut chosen, flavour, tr!(flavour.facts().name));
                    }
                })
                .response
                .labelled_by(toggle.id)
                .on_hover_text(tr!(
                    "Qt 5 (and Qt 6 with a QString key) use System V; Qt 6.6+ with QNativeIpcKey uses POSIX"
                ));
            if chosen != app.mode {
                commands.push(Command::SetMode(chosen));
            }
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
        let mut protocol = app.protocol_open;
        if ui
            .toggle_value(&mut protocol, tr!(super::protocol_panel::PROTOCOL_LABEL))
            .on_hover_text(tr!(
                "Every process's steps under the key, live, and step-through (%{shortcut})",
                shortcut = ui.ctx().format_shortcut(&PROTOCOL_SHORTCUT)
            ))
            .changed()
        {
            commands.push(Command::SetProtocolOpen(protocol));
        }
        let mut open = app.inspector_open;
        if ui
            .toggle_value(&mut open, tr!("Inspector"))
            .on_hover_text(ui.ctx().format_shortcut(&INSPECTOR_SHORTCUT))
            .changed()
        {
            commands.push(Command::SetInspectorOpen(open));
        }
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
