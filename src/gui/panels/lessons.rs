//! Lessons: predict, run, explain. The class picks an experiment, reads its setup, predicts
//! the answer, and only then may run it: real processes, as `check` runs them. What happened is
//! shown beside the prediction, with why, and what other OSes do where they differ. The texts
//! are the handout's (`commands::check::LESSONS`).

use egui::{Color32, RichText};

use super::protocol::{StepId, show_timeline};
use super::{Panel, PanelFacts, Place};
use crate::commands::check::{Finding, LESSONS, Lesson};
use crate::gui::app::{Command, LESSONS_SHORTCUT, ShmImageApp};
use crate::gui::language::tr;
use crate::platform::Os;

pub const LESSONS_LABEL: &str = "Lessons";
pub const RUN_LESSON_LABEL: &str = "Run it";
/// Over the lanes of every step the lesson's processes took (the Protocol panel's view).
pub const STEPS_LABEL: &str = "Every step the processes took";
pub(crate) const NAME: &str = "lessons";

const FACTS: PanelFacts = PanelFacts {
    name: NAME,
    toggle: Some(LESSONS_LABEL),
    hint: "Six experiments: predict, run them for real, see why (%{shortcut})",
    shortcut: Some(LESSONS_SHORTCUT),
    place: Place::Window,
    remembered: false,
};

/// The panel's state: which lesson, the prediction, and what the last run found.
#[derive(Default)]
pub struct LessonsPanel {
    pub open: bool,
    pub selected: usize,
    /// The answer the class predicted for the selected lesson (a run needs one).
    pub predicted: Option<usize>,
    pub running: bool,
    /// What the selected lesson's last run found, or why it could not run.
    pub finding: Option<Result<Finding, String>>,
    /// The finding's pictures, uploaded once it is shown.
    textures: Vec<egui::TextureHandle>,
    /// The step selected in the lanes of what the lesson's processes did.
    selected_step: Option<StepId>,
}

impl Panel for LessonsPanel {
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
        let mut open = true;
        egui::Window::new(tr!(LESSONS_LABEL))
            .open(&mut open)
            .default_width(900.0)
            // A run's pictures and lanes are taller than the default 600-pixel window: the
            // panel scrolls rather than run off its bottom.
            .vscroll(true)
            .default_height(ui.ctx().content_rect().height() - 60.0)
            .show(ui.ctx(), |ui| self.show(ui, commands));
        if !open {
            commands.push(Command::SetPanelOpen(NAME, false));
        }
    }
}

impl LessonsPanel {
    /// What a run found (or why it could not run): shown from the next frame on.
    pub fn found(&mut self, finding: Result<Finding, String>) {
        self.running = false;
        self.finding = Some(finding);
        self.textures.clear();
        self.selected_step = None;
    }

    /// A run is starting: nothing found so far.
    pub fn found_nothing_yet(&mut self) {
        self.finding = None;
        self.textures.clear();
    }

    fn show(&mut self, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        ui.horizontal_wrapped(|ui| {
            for (index, lesson) in LESSONS.iter().enumerate() {
                let title = format!("{}. {}", index + 1, tr!(lesson.title));
                if ui
                    .add_enabled(
                        !self.running,
                        egui::Button::selectable(self.selected == index, title),
                    )
                    .clicked()
                    && self.selected != index
                {
                    *self = Self {
                        open: true,
                        selected: index,
                        ..Self::default()
                    };
                }
            }
        });
        ui.separator();
        let lesson = &LESSONS[self.selected];
        ui.heading(tr!(lesson.title));
        ui.label(tr!(lesson.setup));
        ui.add_space(4.0);
        ui.label(RichText::new(tr!(lesson.question)).strong());
        for (index, answer) in lesson.answers.iter().enumerate() {
            let text = format!("({}) {}", letter(index), tr!(*answer));
            ui.add_enabled_ui(!self.running && self.finding.is_none(), |ui| {
                ui.radio_value(&mut self.predicted, Some(index), text);
            });
        }
        ui.horizontal(|ui| {
            let ready = self.predicted.is_some() && !self.running;
            if ui
                .add_enabled(ready, egui::Button::new(tr!(RUN_LESSON_LABEL)))
                .on_disabled_hover_text(tr!("Predict first: choose an answer"))
                .clicked()
            {
                commands.push(Command::RunLesson(self.selected));
            }
            if self.running {
                ui.spinner();
                ui.label(tr!("Running with real processes…"));
            } else if self.predicted.is_none() {
                ui.label(tr!("Predict first: choose an answer"));
            }
        });
        match &self.finding {
            Some(Ok(finding)) => {
                if self.textures.len() != finding.pictures.len() {
                    self.textures = textures(ui.ctx(), finding);
                }
                outcome(ui, lesson, self.predicted, finding, &self.textures);
                if !finding.lanes.is_empty() {
                    ui.separator();
                    egui::CollapsingHeader::new(tr!(STEPS_LABEL))
                        .default_open(true)
                        .show(ui, |ui| {
                            show_timeline(
                                ui,
                                &finding.lanes,
                                &mut self.selected_step,
                                "lesson-lanes",
                                false,
                            );
                        });
                }
            }
            Some(Err(err)) => {
                ui.colored_label(Color32::from_rgb(220, 60, 60), err);
            }
            None => {}
        }
    }
}

fn letter(index: usize) -> char {
    (b'a' + index as u8) as char
}

fn textures(ctx: &egui::Context, finding: &Finding) -> Vec<egui::TextureHandle> {
    finding
        .pictures
        .iter()
        .map(|picture| {
            let size = [
                picture.image.width() as usize,
                picture.image.height() as usize,
            ];
            let image = egui::ColorImage::from_rgba_unmultiplied(size, picture.image.as_raw());
            ctx.load_texture(picture.label, image, egui::TextureOptions::NEAREST)
        })
        .collect()
}

/// What happened, against the prediction, and why.
fn outcome(
    ui: &mut egui::Ui,
    lesson: &Lesson,
    predicted: Option<usize>,
    finding: &Finding,
    pictures: &[egui::TextureHandle],
) {
    ui.separator();
    ui.label(RichText::new(tr!("What happened")).strong());
    ui.add(egui::Label::new(finding.observed_in(&rust_i18n::locale())).wrap());
    // What each reader got, twice the size, so a class sees where it tore.
    ui.horizontal(|ui| {
        for (picture, texture) in finding.pictures.iter().zip(pictures) {
            ui.vertical(|ui| {
                ui.label(tr!(picture.label));
                ui.add(egui::Image::new(texture).fit_to_exact_size(texture.size_vec2() * 2.0));
            });
        }
    });
    match finding.happened {
        Some(happened) => {
            let answer = format!("({}) {}", letter(happened), tr!(lesson.answers[happened]));
            if predicted == Some(happened) {
                ui.colored_label(
                    Color32::from_rgb(80, 180, 90),
                    tr!("Your prediction was right: %{answer}", answer = answer),
                );
            } else {
                ui.colored_label(
                    Color32::from_rgb(230, 150, 50),
                    tr!(
                        "Not what you predicted: what happened was %{answer}",
                        answer = answer
                    ),
                );
            }
        }
        None => {
            ui.label(tr!("This run could not tell which answer it was."));
        }
    }
    ui.add_space(4.0);
    ui.label(RichText::new(tr!("Why")).strong());
    ui.add(egui::Label::new(tr!(lesson.why)).wrap());
    let here = (lesson.expected)(Os::current());
    for os in [Os::Linux, Os::MacOs, Os::Windows] {
        let there = (lesson.expected)(os);
        if there != here {
            ui.label(tr!(
                "On %{os}: (%{letter}) %{answer}",
                os = os.name(),
                letter = letter(there),
                answer = tr!(lesson.answers[there])
            ));
        }
    }
}
