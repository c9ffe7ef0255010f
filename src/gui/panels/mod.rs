//! The panels beside the image, each a part that owns its state, its poller and its drawing:
//! the inspector, the Protocol panel, Lessons and Check this OS. `Panels::each` lists them, and that
//! list drives their toggles, shortcuts, saved settings, pollers and places in the window.

pub mod check;
pub mod inspector;
pub mod lessons;
mod polling;
pub mod protocol;

use std::any::Any;

use egui::KeyboardShortcut;

use super::app::{Command, ShmImageApp};
use super::language::tr;
pub use check::CheckPanel;
pub use inspector::Inspector;
pub use lessons::LessonsPanel;
pub(super) use polling::Poller;
pub use protocol::ProtocolPanel;

/// Where a panel is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Right,
    Bottom,
    /// A window of its own over the image.
    Window,
}

/// What the window needs to know about a panel to offer it.
pub(super) struct PanelFacts {
    /// Its name in the saved settings and in outcomes.
    pub(super) name: &'static str,
    /// The text of its toggle in the key bar; `None` if it is opened from elsewhere.
    pub(super) toggle: Option<&'static str>,
    /// The toggle's hint, with `%{shortcut}` where the shortcut goes.
    pub(super) hint: &'static str,
    pub(super) shortcut: Option<KeyboardShortcut>,
    pub(super) place: Place,
    /// Whether it opens again at the next start if it was open at exit.
    pub(super) remembered: bool,
}

/// A panel: its state, drawn from the window's, changed by what its poller sees.
pub(super) trait Panel {
    fn facts(&self) -> &'static PanelFacts;
    fn is_open(&self) -> bool;
    fn set_open(&mut self, open: bool);
    /// Called every frame: starts, restarts or stops its poller to match what the window shows.
    fn keep_polling(&mut self, _app: &ShmImageApp) {}
    /// The window now shows another key, mode or native key: what the panel showed is gone.
    fn forget(&mut self) {}
    /// Looks again now, if it polls.
    fn look_again_now(&self) {}
    /// What its poller saw.
    fn seen(&mut self, _seen: Box<dyn Any + Send>) {}
    fn ui(&mut self, app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>);
}

/// Every panel of the window.
#[derive(Default)]
pub struct Panels {
    pub inspector: Inspector,
    pub protocol: ProtocolPanel,
    pub check: CheckPanel,
    pub lessons: LessonsPanel,
}

impl Panels {
    /// The panels, in the order their toggles appear.
    pub(super) fn each(&mut self) -> [&mut dyn Panel; 4] {
        [
            &mut self.protocol,
            &mut self.inspector,
            &mut self.lessons,
            &mut self.check,
        ]
    }

    pub(super) fn each_ref(&self) -> [&dyn Panel; 4] {
        [&self.protocol, &self.inspector, &self.lessons, &self.check]
    }

    pub(super) fn named(&mut self, name: &str) -> Option<&mut dyn Panel> {
        self.each()
            .into_iter()
            .find(|panel| panel.facts().name == name)
    }

    /// Opens or closes the panel `name`.
    pub(super) fn set_open(&mut self, name: &str, open: bool) {
        if let Some(panel) = self.named(name) {
            panel.set_open(open);
        }
    }
}

/// Draws the open panels in their places; the image goes in what is left.
pub(super) fn show(
    panels: &mut Panels,
    app: &ShmImageApp,
    ui: &mut egui::Ui,
    commands: &mut Vec<Command>,
) {
    for panel in panels.each() {
        if !panel.is_open() {
            continue;
        }
        let facts = panel.facts();
        match facts.place {
            // A height of its own, so the window does not jump as its rows arrive.
            Place::Bottom => {
                egui::Panel::bottom(facts.name)
                    .resizable(true)
                    .default_size(250.0)
                    .min_size(220.0)
                    .show(ui, |ui| panel.ui(app, ui, commands));
            }
            Place::Right => {
                egui::Panel::right(facts.name)
                    .resizable(true)
                    .default_size(320.0)
                    .show(ui, |ui| panel.ui(app, ui, commands));
            }
            Place::Window => panel.ui(app, ui, commands),
        }
    }
}

/// The key bar's toggles, one per panel that has one.
pub(super) fn toggles(panels: &Panels, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    for panel in panels.each_ref() {
        let facts = panel.facts();
        let Some(label) = facts.toggle else {
            continue;
        };
        let shortcut = facts
            .shortcut
            .map(|shortcut| super::shortcuts::name(&shortcut))
            .unwrap_or_default();
        let mut open = panel.is_open();
        if ui
            .toggle_value(&mut open, tr!(label))
            .on_hover_text(tr!(facts.hint, shortcut = shortcut))
            .changed()
        {
            commands.push(Command::SetPanelOpen(facts.name, open));
        }
    }
}

/// The panels' shortcuts: each toggles its panel.
pub(super) fn shortcuts(
    panels: &Panels,
    input: &mut egui::InputState,
    commands: &mut Vec<Command>,
) {
    for panel in panels.each_ref() {
        let facts = panel.facts();
        if facts
            .shortcut
            .is_some_and(|shortcut| input.consume_shortcut(&shortcut))
        {
            commands.push(Command::SetPanelOpen(facts.name, !panel.is_open()));
        }
    }
}
