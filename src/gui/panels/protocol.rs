//! The Protocol panel: every process's steps under the key, one lane per process, in the order
//! they happened (so two windows side by side show the same interleaving), with the lock's hold
//! drawn under the steps that held it; step-through's controls; and what the selected step did.
//!
//! Steps are laid out one slot each in order of their start, not on a linear clock: a fetch
//! takes well under a millisecond, and on a clock its steps would share one pixel. Every bar
//! carries its own duration instead.

use egui::{Color32, RichText, Sense, Stroke, StrokeKind, pos2, vec2};

use std::any::Any;
use std::time::Duration;

use super::{Panel, PanelFacts, Place, Poller, polling};
use crate::gui::app::{Command, PROTOCOL_SHORTCUT, ShmImageApp};
use crate::gui::language::tr;
use crate::gui::shortcuts;
use crate::protocol::{self, ProcessJournal, Record, State, Step};

pub const PROTOCOL_LABEL: &str = "Protocol";
pub const STEP_THROUGH_LABEL: &str = "Step through";
pub const NEXT_STEP_LABEL: &str = "Next step";
pub const CANCEL_LABEL: &str = "Cancel";
/// The newest steps shown; older ones scroll away.
const SHOWN_STEPS: usize = 48;
const SLOT: f32 = 84.0;
const LANE: f32 = 48.0;
/// A step bar's height: the rest of the lane, under the bars, holds the "lock held" label.
const BAR: f32 = 30.0;
const LABELS: f32 = 180.0;

/// How often the journals are read while the panel is open: live, and cheap (a few 16 KiB
/// files).
const EVERY: Duration = Duration::from_millis(100);

const FACTS: PanelFacts = PanelFacts {
    name: "protocol",
    toggle: Some(PROTOCOL_LABEL),
    hint: "Every process's steps under the key, live, and step-through (%{shortcut})",
    shortcut: Some(PROTOCOL_SHORTCUT),
    place: Place::Bottom,
    remembered: true,
};

/// Names one recorded step across refreshes of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepId {
    pid: u32,
    opened_us: u64,
    seq: u64,
}

impl StepId {
    pub fn of(lane: &ProcessJournal, record: &Record) -> Self {
        Self {
            pid: lane.owner.pid,
            opened_us: lane.owner.opened_us,
            seq: record.seq,
        }
    }
}

/// The panel's state: every process's steps under the key, as last read, and the one selected.
#[derive(Default)]
pub struct ProtocolPanel {
    pub open: bool,
    pub timeline: Vec<ProcessJournal>,
    pub selected_step: Option<StepId>,
    poller: Option<Poller>,
}

impl Panel for ProtocolPanel {
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
            protocol::journal,
            |_| Vec::new(),
        );
    }

    fn forget(&mut self) {
        self.timeline.clear();
        self.selected_step = None;
    }

    fn look_again_now(&self) {
        if let Some(poller) = &self.poller {
            poller.look_again_now();
        }
    }

    fn seen(&mut self, seen: Box<dyn Any + Send>) {
        if let Ok(timeline) = seen.downcast::<Vec<ProcessJournal>>() {
            self.timeline = *timeline;
        }
    }

    fn ui(&mut self, app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        controls(app, ui, commands);
        ui.separator();
        if newest_steps(&self.timeline).is_empty() {
            ui.label(tr!(
                "No steps recorded under this key yet. Load an image here or in another window, and every process's steps appear here as they happen."
            ));
            return;
        }
        show_timeline(
            ui,
            &self.timeline,
            &mut self.selected_step,
            "protocol-lanes",
            true,
        );
    }
}

/// Every process's steps as lanes, labelled, and the selected step's details below: the
/// Protocol panel's view, scrolled to the newest step as they come (`live`), which the Lessons
/// panel shows too, from the first step, for the story of what a lesson's processes did.
pub(crate) fn show_timeline(
    ui: &mut egui::Ui,
    timeline: &[ProcessJournal],
    selected: &mut Option<StepId>,
    id_salt: &str,
    live: bool,
) {
    let mut clicked = None;
    let steps = newest_steps(timeline);
    ui.horizontal_top(|ui| {
        lane_labels(timeline, ui);
        egui::ScrollArea::horizontal()
            .stick_to_right(live)
            .id_salt(id_salt)
            .show(ui, |ui| {
                lanes(timeline, *selected, ui, &steps, &mut clicked)
            });
    });
    ui.separator();
    details(timeline, *selected, ui, &steps);
    if clicked.is_some() {
        *selected = clicked;
    }
}

fn controls(app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        ui.heading(tr!(PROTOCOL_LABEL))
            .on_hover_text(shortcuts::name(&PROTOCOL_SHORTCUT));
        let mut stepping = app.steps.is_enabled();
        if ui
            .checkbox(&mut stepping, tr!(STEP_THROUGH_LABEL))
            .on_hover_text(tr!(
                "This window's own loads stop before each step (create, attach, lock, copy, unlock) until you press Next step. Other processes that need the lock meanwhile wait for as long as it is held, instead of timing out (%{shortcut})",
                shortcut = shortcuts::name(&shortcuts::step_through())
            ))
            .changed()
        {
            commands.push(Command::SetStepThrough(stepping));
        }
        let paused = app.steps.paused_before();
        let next = ui
            .add_enabled(paused.is_some(), egui::Button::new(tr!(NEXT_STEP_LABEL)))
            .on_hover_text(shortcuts::name(&shortcuts::next_step()));
        if next.clicked() {
            commands.push(Command::NextStep);
        }
        if ui
            .add_enabled(app.busy.is_some(), egui::Button::new(tr!(CANCEL_LABEL)))
            .on_hover_text(tr!(
                "Stop this window's load (Esc): whatever it holds is given back"
            ))
            .clicked()
        {
            commands.push(Command::CancelJob);
        }
        if let Some((step, qt_call)) = paused {
            ui.label(
                RichText::new(tr!(
                    "paused before %{step}: %{qt_call}",
                    step = tr!(step.name()),
                    qt_call = qt_call
                ))
                    .color(Color32::from_rgb(200, 150, 0)),
            );
        }
    });
}

/// Every recorded step, each with its lane, oldest first: the newest [`SHOWN_STEPS`] of them.
fn newest_steps(timeline: &[ProcessJournal]) -> Vec<(usize, &Record)> {
    let mut steps: Vec<(usize, &Record)> = timeline
        .iter()
        .enumerate()
        .flat_map(|(lane, journal)| journal.records.iter().map(move |r| (lane, r)))
        .collect();
    steps.sort_by_key(|(lane, record)| (record.start_us, *lane, record.seq));
    let skip = steps.len().saturating_sub(SHOWN_STEPS);
    steps.split_off(skip)
}

fn step_colour(step: Step) -> Color32 {
    match step {
        Step::Create | Step::Attach | Step::Detach => Color32::from_rgb(70, 110, 190),
        Step::Lock | Step::Unlock => Color32::from_rgb(200, 120, 40),
        Step::CopyIn | Step::CopyOut => Color32::from_rgb(60, 150, 90),
        Step::RemoveLeftover => Color32::from_rgb(140, 80, 170),
        Step::Encode | Step::Decode => Color32::from_rgb(110, 110, 110),
    }
}

fn lane_label(lane: &ProcessJournal) -> String {
    let owner = &lane.owner;
    let this = if owner.pid == std::process::id() && lane.alive {
        tr!(" (this window)")
    } else if !lane.alive {
        tr!(" (ended)")
    } else {
        String::new()
    };
    format!("pid {} {}{this}", owner.pid, tr!(owner.role.name()))
}

/// The fixed column on the left: which process each lane is.
fn lane_labels(timeline: &[ProcessJournal], ui: &mut egui::Ui) {
    let size = vec2(LABELS, LANE * timeline.len() as f32);
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    for (index, lane) in timeline.iter().enumerate() {
        painter.text(
            pos2(rect.left() + 2.0, rect.top() + LANE * (index as f32 + 0.5)),
            egui::Align2::LEFT_CENTER,
            lane_label(lane),
            egui::FontId::proportional(12.0),
            ui.visuals().text_color(),
        );
    }
}

fn lanes(
    lanes: &[ProcessJournal],
    selected_step: Option<StepId>,
    ui: &mut egui::Ui,
    steps: &[(usize, &Record)],
    clicked: &mut Option<StepId>,
) {
    // Room after the last step for a death's sentence, where there is one.
    let after = if lanes.iter().any(|l| l.died_during().is_some()) {
        4.0
    } else {
        0.5
    };
    let size = vec2(
        SLOT * (steps.len() as f32 + after),
        LANE * lanes.len() as f32,
    );
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let grid = Grid {
        rect,
        painter: ui.painter_at(rect),
    };
    for (index, lane) in lanes.iter().enumerate() {
        lane_background(&grid, ui.visuals(), index, lane, steps);
    }
    for (slot, (lane_index, record)) in steps.iter().enumerate() {
        let lane = &lanes[*lane_index];
        let id = StepId::of(lane, record);
        let selected = selected_step == Some(id);
        if step_bar(&grid, ui, (slot, *lane_index), lane, record, selected) {
            *clicked = Some(id);
        }
    }
}

/// Where the lanes are drawn: one slot per step across, one lane per process down.
struct Grid {
    rect: egui::Rect,
    painter: egui::Painter,
}

impl Grid {
    fn slot_x(&self, slot: usize) -> f32 {
        self.rect.left() + SLOT * slot as f32
    }

    fn lane_y(&self, lane: usize) -> f32 {
        self.rect.top() + LANE * lane as f32
    }
}

/// A lane's stripe, the lock's hold under its steps (from the step that took it to the
/// unlock), and how its process died, if it did.
fn lane_background(
    grid: &Grid,
    visuals: &egui::Visuals,
    index: usize,
    lane: &ProcessJournal,
    steps: &[(usize, &Record)],
) {
    let (painter, y) = (&grid.painter, grid.lane_y(index));
    if index % 2 == 1 {
        painter.rect_filled(
            egui::Rect::from_min_size(pos2(grid.rect.left(), y), vec2(grid.rect.width(), LANE)),
            0.0,
            visuals.faint_bg_color,
        );
    }
    let slots: Vec<(usize, &Record)> = steps
        .iter()
        .enumerate()
        .filter(|(_, (l, _))| *l == index)
        .map(|(slot, (_, r))| (slot, *r))
        .collect();
    let mut held_from = None;
    for (slot, record) in &slots {
        if record.step.takes_lock() && record.state == State::Ok {
            held_from = held_from.or(Some(*slot));
        }
        if record.step == Step::Unlock
            && record.state == State::Ok
            && let Some(from) = held_from.take()
        {
            hold_band(painter, grid.slot_x(from), grid.slot_x(*slot + 1), y);
        }
    }
    if let Some(from) = held_from {
        let end = slots.last().map_or(from, |(slot, _)| *slot) + 1;
        hold_band(painter, grid.slot_x(from), grid.slot_x(end), y);
    }
    if let Some(death) = protocol::describe_death(lane)
        && let Some((slot, _)) = slots.last()
    {
        painter.text(
            pos2(grid.slot_x(slot + 1) + 4.0, y + LANE / 2.0),
            egui::Align2::LEFT_CENTER,
            death.in_current_language(),
            egui::FontId::proportional(12.0),
            Color32::from_rgb(220, 60, 60),
        );
    }
}

/// One step's bar, with its name and duration; `true` if it was clicked.
fn step_bar(
    grid: &Grid,
    ui: &egui::Ui,
    (slot, lane_index): (usize, usize),
    lane: &ProcessJournal,
    record: &Record,
    selected: bool,
) -> bool {
    let painter = &grid.painter;
    let bar = egui::Rect::from_min_size(
        pos2(grid.slot_x(slot) + 3.0, grid.lane_y(lane_index) + 5.0),
        vec2(SLOT - 6.0, BAR),
    );
    let fill = match record.state {
        State::Failed => Color32::from_rgb(200, 60, 60),
        State::Paused => Color32::from_rgb(230, 190, 60),
        State::Running => step_colour(record.step).gamma_multiply(0.5),
        State::Ok => step_colour(record.step),
    };
    painter.rect_filled(bar, 4.0, fill);
    if selected {
        let stroke = Stroke::new(2.0, ui.visuals().text_color());
        painter.rect_stroke(bar, 4.0, stroke, StrokeKind::Outside);
    }
    let duration = match (record.state, record.duration_us) {
        (State::Paused, _) => tr!("paused"),
        (_, Some(us)) => protocol::human_duration(std::time::Duration::from_micros(us)),
        (_, None) => "…".to_owned(),
    };
    painter.text(
        bar.center_top() + vec2(0.0, 2.0),
        egui::Align2::CENTER_TOP,
        tr!(record.step.name()),
        egui::FontId::proportional(12.0),
        Color32::WHITE,
    );
    painter.text(
        bar.center_bottom() - vec2(0.0, 2.0),
        egui::Align2::CENTER_BOTTOM,
        duration,
        egui::FontId::proportional(10.0),
        Color32::WHITE,
    );
    let label = format!("{} by pid {}", record.step.name(), lane.owner.pid);
    let id = StepId::of(lane, record);
    let response = ui.interact(bar, egui::Id::unique(("protocol-step", id)), Sense::click());
    response.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
    response
        .on_hover_text(format!(
            "{}\n{}",
            record.step.qt_call(lane.owner.qt),
            record.text
        ))
        .clicked()
}

fn hold_band(painter: &egui::Painter, from: f32, to: f32, y: f32) {
    let band = egui::Rect::from_min_max(pos2(from, y + 1.0), pos2(to, y + LANE - 1.0));
    painter.rect_filled(band, 2.0, Color32::from_rgba_unmultiplied(200, 120, 40, 50));
    // Under the bars (which end at 5 + BAR), inside the band: never covered, never clipped.
    painter.text(
        pos2(to - 4.0, y + 5.0 + BAR + 1.0),
        egui::Align2::RIGHT_TOP,
        tr!("lock held"),
        egui::FontId::proportional(9.0),
        Color32::from_rgb(200, 120, 40),
    );
}

fn details(
    timeline: &[ProcessJournal],
    selected_step: Option<StepId>,
    ui: &mut egui::Ui,
    steps: &[(usize, &Record)],
) {
    let selected = selected_step.and_then(|id| {
        steps
            .iter()
            .find(|(lane, record)| StepId::of(&timeline[*lane], record) == id)
    });
    let Some((lane, record)) = selected else {
        ui.label(tr!(
            "Select a step to see what it did, the Qt call it is, and the OS object it touched."
        ));
        return;
    };
    let lane = &timeline[*lane];
    let outcome = match (record.state, record.duration_us) {
        (State::Paused, _) => tr!("paused, waiting for Next step"),
        (State::Running, _) if !lane.alive => tr!("never finished: the process died"),
        (State::Running, _) => tr!("running"),
        (State::Ok, Some(us)) => tr!(
            "ok, %{duration}",
            duration = protocol::human_duration(std::time::Duration::from_micros(us))
        ),
        (State::Failed, Some(us)) => tr!(
            "failed after %{duration}",
            duration = protocol::human_duration(std::time::Duration::from_micros(us))
        ),
        (_, None) => tr!("unknown"),
    };
    egui::Grid::new("step-details")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let mut row = |name: &str, value: String| {
                ui.label(tr!(name));
                ui.add(egui::Label::new(RichText::new(value).monospace()).wrap());
                ui.end_row();
            };
            row("step", tr!(record.step.name()));
            row("Qt call", record.step.qt_call(lane.owner.qt).to_owned());
            row("OS object / result", record.text.clone());
            row("process", lane_label(lane));
            row("outcome", outcome);
        });
}
