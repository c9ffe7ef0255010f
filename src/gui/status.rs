//! What the window says: the status line, and every outcome turned into words, in Qt's own
//! sentences where the example has one.

use std::path::Path;
use std::time::Duration;

use egui::{Color32, RichText};

use super::app::{Command, LOAD_MEMORY_LABEL, READY_TEXT, ShmImageApp};
use super::language::tr;
use super::worker::JobTag;
use crate::codec::Header;
use crate::protocol::{self, Failure, Publication, ShareError, human_bytes};

/// The status line's state: one sentence, and whether it reports a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ready,
    /// A job is running (the line shows its words and a Cancel button).
    Working(String),
    Done(String),
    Failed(String),
}

impl Status {
    /// The sentence, in the window's language (the others were worded when they were made).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Ready => tr!(READY_TEXT).into(),
            Self::Working(text) | Self::Done(text) | Self::Failed(text) => text.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

/// What the status line says while this window's load is paused in step-through or waits for
/// a lock that another process holds while being stepped through.
pub fn stepping_text(app: &ShmImageApp) -> Option<String> {
    app.busy?;
    if let Some((step, qt_call)) = app.steps.paused_before() {
        return Some(tr!(
            "Step-through: paused before %{step} (%{qt_call}). Press Next step (%{next}) to run it, or Cancel (Esc) to give back everything.",
            step = tr!(step.name()),
            next = super::shortcuts::name(&super::shortcuts::next_step()),
            qt_call = qt_call
        ));
    }
    app.steps.waiting().map(|why| {
        let mut why = why;
        if let Some(first) = why.get(..1) {
            why.replace_range(..1, &first.to_uppercase());
        }
        tr!("%{why}. Cancel (Esc) stops waiting.", why = why)
    })
}

pub(super) fn show_line(app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        if app.busy.is_some() {
            // No spinner (the job's own words end in "…"), and a redraw a second only as a safety
            // net (every change of a job wakes the window itself): a spinner draws a frame every
            // frame, and under a software renderer those frames take the cores from the fetch
            // they wait for.
            ui.ctx().request_repaint_after(Duration::from_secs(1));
            if ui
                .small_button(tr!(super::panels::protocol::CANCEL_LABEL))
                .on_hover_text(tr!(
                    "Stop this load (Esc): a lock wait gives up, whatever is held is given back"
                ))
                .clicked()
            {
                commands.push(Command::CancelJob);
            }
        }
        let stepping = stepping_text(app);
        let status = app.status.text();
        let text = RichText::new(stepping.as_deref().unwrap_or(&status));
        let text = if app.status.is_error() {
            text.color(Color32::from_rgb(220, 60, 60))
        } else {
            text
        };
        ui.label(text);
    });
}

pub(super) fn cancelled(has_image: bool) -> Status {
    if has_image {
        Status::Done(tr!("Cancelled; the image is unchanged."))
    } else {
        Status::Ready
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn note_sentence(note: Option<String>) -> String {
    note.map(|n| tr!(" Note: %{note}.", note = n))
        .unwrap_or_default()
}

pub(super) fn published(path: &Path, key: &str, header: &Header, note: Option<String>) -> Status {
    Status::Done(tr!(
        "Shared %{file} under key \"%{key}\" (generation %{generation}); press \"%{button}\" in another window.%{note}",
        file = file_name(path),
        key = key,
        generation = header.generation,
        button = tr!(LOAD_MEMORY_LABEL),
        note = note_sentence(note)
    ))
}

pub(super) fn published_caption(
    path: &Path,
    publication: &Publication,
    elapsed: Duration,
) -> String {
    let header = &publication.header;
    tr!(
        "%{file} · %{width}x%{height} · %{encoding} · %{size} in shared memory · shared in %{ms} ms",
        file = file_name(path),
        width = header.width,
        height = header.height,
        encoding = header.encoding,
        size = human_bytes(publication.segment_size as u64),
        ms = format!("{:.1}", elapsed.as_secs_f64() * 1000.0)
    )
}

pub(super) fn load_failed(error: &ShareError) -> String {
    match error.failure() {
        Failure::Cancelled => tr!(
            "Cancelled: %{error}; the image shared before is unchanged.",
            error = error
        ),
        Failure::NotAnImage => tr!(
            "Selected file is not an image, please select another. (%{error})",
            error = error
        ),
        _ => tr!("Unable to load the image: %{error}.", error = error),
    }
}

pub(super) fn fetched(tag: &JobTag, header: &Header, note: Option<String>) -> Status {
    if let Some(name) = &tag.native_key {
        // No shmimage header: no publisher, and the generation is only a checksum of the bytes.
        return Status::Done(tr!(
            "Showing what another program put under the native key \"%{name}\"; no lock guards it, so shmimage checks samples taken before and after its copy to catch a torn read.%{note}",
            name = name,
            note = note_sentence(note)
        ));
    }
    let key = &tag.key;
    Status::Done(tr!(
        "Showing the image shared under key \"%{key}\" by %{publisher} (generation %{generation}).%{note}",
        key = key,
        publisher = protocol::publisher_name(header.publisher_pid),
        generation = header.generation,
        note = note_sentence(note)
    ))
}

pub(super) fn fetched_caption(
    tag: &JobTag,
    header: &Header,
    segment_size: usize,
    elapsed: Duration,
) -> String {
    if let Some(name) = &tag.native_key {
        return tr!(
            "%{width}x%{height} · %{size} read from the native key \"%{name}\" · read in %{ms} ms",
            width = header.width,
            height = header.height,
            size = human_bytes(segment_size as u64),
            name = name,
            ms = format!("{:.1}", elapsed.as_secs_f64() * 1000.0)
        );
    }
    tr!(
        "%{width}x%{height} · %{encoding} · %{size} from shared memory · generation %{generation} from %{publisher} · read in %{ms} ms",
        width = header.width,
        height = header.height,
        encoding = header.encoding,
        size = human_bytes(segment_size as u64),
        generation = header.generation,
        publisher = protocol::publisher_name(header.publisher_pid),
        ms = format!("{:.1}", elapsed.as_secs_f64() * 1000.0)
    )
}

pub(super) fn fetch_failed(key: &str, error: &ShareError) -> String {
    match error.failure() {
        Failure::Cancelled => tr!(
            "Cancelled: %{error}; the image shown is unchanged.",
            error = error
        ),
        Failure::NothingShared => tr!(
            "Unable to attach to shared memory segment. Load an image first. (Nothing is shared under key \"%{key}\".)",
            key = key
        ),
        Failure::LeftoverRemoved { pid } => tr!(
            "Unable to attach to shared memory segment. Load an image first. (The segment left by pid %{pid}, which exited without detaching, was removed.)",
            pid = pid
        ),
        _ => tr!(
            "Unable to load the image from shared memory: %{error}.",
            error = error
        ),
    }
}

pub(super) fn job_failed(what: &str) -> String {
    tr!(
        "Something went wrong inside shmimage (%{what}); the window still works, try again or report it.",
        what = what
    )
}
