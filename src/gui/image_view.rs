//! The middle of the window, as in Qt's example: the top button, the image (or the idle text),
//! the bottom button, and Follow.

use std::time::Instant;

use egui::{RichText, TextureHandle, TextureOptions};

use super::pixels::DisplayImage;
use super::save::Original;

use super::language::tr;

use super::app::{
    Command, DROP_TEXT, IDLE_TEXT, LOAD_FILE_LABEL, LOAD_FILE_SHORTCUT, LOAD_MEMORY_LABEL,
    LOAD_MEMORY_SHORTCUT, REPUBLISH_LABEL, SAVE_AS_LABEL, SAVE_AS_SHORTCUT, STOP_SHARING_LABEL,
    ShmImageApp,
};

/// The image on screen and what to say about it.
pub struct Shown {
    pub texture: TextureHandle,
    /// Size of the image itself; the texture may be smaller (downscaled to the GPU's limit).
    pub full_size: [usize; 2],
    pub caption: String,
    /// What Save as… writes.
    pub original: Original,
}

/// The viewer's state: the image on screen, how it is scaled, and when it reached the screen.
#[derive(Default)]
pub struct Viewer {
    pub shown: Option<Shown>,
    pub(super) actual_size: bool,
    /// When the fetch now being shown was asked for: the frame after its texture was uploaded
    /// and drawn turns this into "on screen N ms after the click".
    pub(super) shown_after_click: Option<Instant>,
    /// The generation just fetched: the next frame logs when it reached the screen (what
    /// `scripts/follow-latency.sh` measures against the publisher's clock).
    pub(super) shown_generation_to_log: Option<u64>,
}

impl Viewer {
    pub(super) fn show(&mut self, ctx: &egui::Context, image: DisplayImage, caption: String) {
        // Re-specify the texture we have rather than make a second one: a new handle would
        // keep the old texture alive until the end of the frame that uploads the new one.
        if let Some(shown) = &mut self.shown {
            shown.texture.set(image.pixels, TextureOptions::LINEAR);
            shown.full_size = image.full_size;
            shown.caption = caption;
            // The picture replaced was uploaded frames ago: its pixels can take the next fetch.
            if let Original::Texture(pixels) =
                std::mem::replace(&mut shown.original, image.original)
            {
                super::pixels::recycle(pixels);
            }
            return;
        }
        let texture = ctx.load_texture("shown-image", image.pixels, TextureOptions::LINEAR);
        self.shown = Some(Shown {
            texture,
            full_size: image.full_size,
            caption,
            original: image.original,
        });
    }

    /// Called at the start of a frame: the previous frame uploaded and drew the new texture.
    pub(super) fn note_time_on_screen(&mut self) {
        if let Some(generation) = self.shown_generation_to_log.take() {
            log::info!(
                "generation {generation} on screen at_us={}",
                crate::protocol::journal::now_us()
            );
        }
        let (Some(clicked), Some(shown)) = (self.shown_after_click.take(), self.shown.as_mut())
        else {
            return;
        };
        let ms = clicked.elapsed().as_secs_f64() * 1000.0;
        log::info!("click to texture on screen: {ms:.1} ms");
        shown.caption.push_str(&tr!(
            " · on screen %{ms} ms after the click",
            ms = format!("{ms:.0}")
        ));
    }
}

pub(super) fn show(app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    let idle = app.busy.is_none();
    let wide = egui::vec2(ui.available_width(), 32.0);
    let file_button = ui
        .add_enabled(idle, egui::Button::new(tr!(LOAD_FILE_LABEL)).min_size(wide))
        .on_hover_text(tr!(
            "Choose an image and share it (%{shortcut}); or drop a file on the window",
            shortcut = super::shortcuts::name(&LOAD_FILE_SHORTCUT)
        ));
    if file_button.clicked() {
        commands.push(Command::LoadFromFile);
    }

    let image_height = (ui.available_height() - 44.0).max(40.0);
    let area = egui::vec2(ui.available_width(), image_height);
    let hovering = ui.ctx().input(|i| !i.raw.hovered_files.is_empty());
    ui.allocate_ui(area, |ui| {
        ui.set_min_size(area);
        if hovering && app.busy.is_none() {
            drop_target(ui);
        } else {
            image_area(app, ui, commands);
        }
    });

    ui.horizontal(|ui| {
        let button_width = (ui.available_width() - 90.0).max(120.0);
        let memory_button = ui
            .add_enabled(
                idle,
                egui::Button::new(tr!(LOAD_MEMORY_LABEL)).min_size(egui::vec2(button_width, 32.0)),
            )
            .on_hover_text(tr!(
                "Show the image shared under the key (%{shortcut})",
                shortcut = super::shortcuts::name(&LOAD_MEMORY_SHORTCUT)
            ));
        if memory_button.clicked() {
            commands.push(Command::LoadFromMemory);
        }
        let mut follow = app.sharing.follow;
        if ui
            .checkbox(&mut follow, tr!("Follow"))
            .on_hover_text(tr!("Show every new image published under the key"))
            .changed()
        {
            commands.push(Command::SetFollow(follow));
        }
    });
}

/// What the image area shows while a file hovers over the window.
fn drop_target(ui: &mut egui::Ui) {
    let rect = ui.max_rect();
    let stroke = egui::Stroke::new(2.0, ui.visuals().selection.stroke.color);
    ui.painter().rect_filled(
        rect,
        8.0,
        ui.visuals().selection.bg_fill.gamma_multiply(0.25),
    );
    ui.painter()
        .rect_stroke(rect.shrink(4.0), 8.0, stroke, egui::StrokeKind::Inside);
    ui.centered_and_justified(|ui| {
        ui.label(RichText::new(tr!(DROP_TEXT)).size(20.0).strong());
    });
}

fn image_area(app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    let Some(shown) = &app.viewer.shown else {
        ui.centered_and_justified(|ui| {
            let text = if app.busy.is_some() {
                tr!("Working…")
            } else {
                tr!(IDLE_TEXT)
            };
            ui.label(RichText::new(text).size(15.0));
        });
        return;
    };
    ui.horizontal(|ui| {
        // Cut to the window's width (whole text on hover): a long caption must not widen the
        // panel and push the controls below it out of sight.
        ui.scope(|ui| {
            // Room for the buttons on the right: more of them while this window shares.
            let buttons = if app.is_sharing() { 420.0 } else { 150.0 };
            ui.set_max_width((ui.available_width() - buttons).max(40.0));
            ui.add(egui::Label::new(RichText::new(&shown.caption).small()).truncate())
                .on_hover_text(&shown.caption);
        });
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            image_buttons(app, ui, commands);
        });
    });
    let texture_size = shown.texture.size_vec2();
    // One image pixel per screen pixel (a downscaled texture is stretched back to full size).
    let full = egui::vec2(shown.full_size[0] as f32, shown.full_size[1] as f32)
        / ui.ctx().pixels_per_point();
    if app.viewer.actual_size {
        egui::ScrollArea::both().show(ui, |ui| {
            ui.add(egui::Image::new((shown.texture.id(), full)));
        });
    } else {
        let available = ui.available_size();
        // Never enlarge: an image that fits is drawn 1:1, so it stays crisp.
        let scale = (available.x / full.x).min(available.y / full.y).min(1.0);
        let size = if texture_size.x > 0.0 {
            full * scale
        } else {
            full
        };
        ui.centered_and_justified(|ui| {
            ui.add(egui::Image::new((shown.texture.id(), size)));
        });
    }
}

/// Beside the caption, right to left: Fit or 100%, Save as…, and while this window shares,
/// Republish on change and Stop sharing.
fn image_buttons(app: &ShmImageApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    let label = if app.viewer.actual_size {
        tr!("Fit")
    } else {
        "100%".to_owned()
    };
    if ui
        .small_button(label)
        .on_hover_text(tr!("Toggle between fit-to-window and actual pixels"))
        .clicked()
    {
        commands.push(Command::SetActualSize(!app.viewer.actual_size));
    }
    if ui
        .add_enabled(
            app.busy.is_none(),
            egui::Button::new(tr!(SAVE_AS_LABEL)).small(),
        )
        .on_hover_text(tr!(
            "Save the shown image to a file, at its full size (%{shortcut})",
            shortcut = super::shortcuts::name(&SAVE_AS_SHORTCUT)
        ))
        .clicked()
    {
        commands.push(Command::SaveAs);
    }
    if app.is_sharing() {
        let mut republish = app.sharing.republish_on_change;
        if ui
            .checkbox(&mut republish, tr!(REPUBLISH_LABEL))
            .on_hover_text(tr!(
                "Publish the file again whenever it changes on disk: edit it in an image editor and see it in the other window"
            ))
            .changed()
        {
            commands.push(Command::SetRepublishOnChange(republish));
        }
    }
    if app.is_sharing()
        && ui
            .add_enabled(
                app.busy.is_none(),
                egui::Button::new(tr!(STOP_SHARING_LABEL)).small(),
            )
            .on_hover_text(tr!(
                "Detach, as Qt's detach(): the segment is gone for everyone once nobody else has it attached"
            ))
            .clicked()
    {
        commands.push(Command::StopSharing);
    }
}
