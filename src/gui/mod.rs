//! The desktop window: Qt's two-button dialog, drawn with egui. Start-up lives here; the app in
//! [`app`], the background jobs in [`worker`].

pub mod app;
pub mod worker;

use std::path::PathBuf;

use crate::share::Mode;

pub use app::{FilePicker, ShmImageApp};

/// Opens the window for `key` in `mode`, publishing `image` at start when given.
pub fn run(key: &str, mode: Mode, image: Option<PathBuf>) -> eframe::Result {
    crate::sys::hide_own_console();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(app::window_title(key))
            .with_app_id("shmimage")
            .with_inner_size([760.0, 560.0])
            .with_min_inner_size([420.0, 320.0]),
        ..Default::default()
    };
    let key = key.to_owned();
    eframe::run_native(
        "shmimage",
        options,
        Box::new(move |cc| {
            let dir = crate::shm::SegmentDir::for_current_user().ok();
            let mut app = ShmImageApp::new(cc.egui_ctx.clone(), &key, dir);
            app.mode = mode;
            if let Some(path) = image {
                app.load_path(path);
            }
            Ok(Box::new(app))
        }),
    )
}
