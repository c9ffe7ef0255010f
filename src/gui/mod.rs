//! The desktop window: Qt's two-button dialog, drawn with egui, in parts: [`app`] (the state and
//! the commands that change it), [`status`] (outcomes in words, and the status line),
//! `key_bar`, `image_view`, `inspector`, `protocol_panel` (every process's steps, and
//! step-through, whose controls are in [`stepping`]), and [`worker`] (everything slow, off the UI
//! thread). It uses only the protocol layer (`crate::protocol`) and the codec's types.

pub mod app;
mod fonts;
mod image_view;
mod key_bar;
pub mod language;
pub mod panels;
pub mod pixels;
pub mod save;
pub mod settings;
mod shortcuts;
pub mod status;
pub mod stepping;
pub mod worker;

use std::path::PathBuf;

use crate::platform::Os;
use crate::protocol::{Mode, Options, SegmentDir};

pub use app::{FilePicker, ShmImageApp};
pub use language::Language;
pub use panels::inspector::NATIVE_KEY_LIFETIME;
pub use panels::protocol::{
    CANCEL_LABEL, NEXT_STEP_LABEL, PROTOCOL_LABEL, STEP_THROUGH_LABEL, StepId,
};

/// What the window starts with; `main` gathers it from the command line and the environment.
pub struct Start {
    pub key: String,
    pub mode: Mode,
    /// An image to publish at once.
    pub image: Option<PathBuf>,
    /// The segment directory, or the sentence that says why there is none.
    pub dir: Result<SegmentDir, String>,
    pub options: Options,
    /// The shmimage program, for "Open another window" and "Check this OS" (which start copies
    /// of it): this executable, except in tests, where the test harness is not shmimage.
    pub program: PathBuf,
    /// Where "Save Markdown" writes reports: the home directory.
    pub report_dir: PathBuf,
    /// The window's language: the system's (`Language::of_system`), or English in tests.
    pub language: Language,
    /// What the command line chose, which remembered settings do not override.
    pub command_line: settings::CommandLineChoices,
    /// `--native-key` and `--raw`: the inspector's "Native key" and "Raw shape" at start.
    pub native_key: Option<String>,
    pub raw_shape: Option<String>,
    /// Where to put the window (its outer top-left corner, in points): "Open another window"
    /// passes the place beside the window that opened it.
    pub position: Option<[f32; 2]>,
}

/// The window and taskbar icon (`scripts/make-icon.py` draws it).
fn icon() -> Option<egui::IconData> {
    let image = image::load_from_memory(include_bytes!("../../assets/icon.png")).ok()?;
    let rgba = image.to_rgba8();
    Some(egui::IconData {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}

/// Opens the window.
pub fn run(start: Start) -> eframe::Result {
    // The title is worded before the app exists.
    start.language.apply();
    let mut viewport = egui::ViewportBuilder::default()
        .with_title(app::window_title(&start.key))
        .with_app_id("shmimage")
        // Wide enough for the key bar on one line, Qt's flavour box included.
        .with_inner_size([960.0, 600.0])
        .with_min_inner_size([420.0, 320.0]);
    if let Some(icon) = icon() {
        viewport = viewport.with_icon(icon);
    }
    if let Some(position) = start.position {
        viewport = viewport.with_position(position);
    }
    let options = eframe::NativeOptions {
        // Our own provider (`fonts.rs`) finds system fonts; eframe's would be asked first.
        system_font_fallback: false,
        viewport,
        #[cfg(windows)]
        wgpu_options: windows_graphics(),
        ..Default::default()
    };
    let result = eframe::run_native(
        "shmimage",
        options,
        Box::new(move |cc| Ok(Box::new(ShmImageApp::new(cc, start)))),
    );
    // The window is gone; what it shared is withdrawn by its worker, which may be waiting for
    // another process's lock: wait for that here, bounded, instead of with the window on screen.
    worker::finish_left_work(worker::Worker::EXIT_WAIT);
    result
}

/// How the window draws on Windows: Direct3D 12, whose software adapter (WARP) stands in where a
/// virtual machine's or Remote Desktop's display adapter offers only OpenGL 1.1, then OpenGL.
/// Under Wine, Direct3D 12 is vkd3d, which aborts the process where the host has no Vulkan, so
/// there the window draws with OpenGL alone. `WGPU_BACKEND` still overrides both.
#[cfg(windows)]
fn windows_graphics() -> eframe::WgpuConfiguration {
    use eframe::egui_wgpu::{WgpuSetup, WgpuSetupCreateNew, wgpu::Backends};
    let mut setup = WgpuSetupCreateNew::without_display_handle();
    let chosen = std::env::var_os("WGPU_BACKEND").is_some_and(|name| !name.is_empty());
    if !chosen {
        setup.instance_descriptor.backends = if under_wine() {
            Backends::GL
        } else {
            Backends::DX12 | Backends::GL
        };
    }
    eframe::WgpuConfiguration {
        wgpu_setup: WgpuSetup::CreateNew(setup),
        ..Default::default()
    }
}

/// Wine keeps its own settings in the registry; Windows has no such key.
#[cfg(windows)]
fn under_wine() -> bool {
    winreg::RegKey::predef(winreg::enums::HKEY_CURRENT_USER)
        .open_subkey("Software\\Wine")
        .is_ok()
}

/// Why the window could not open, in one sentence that says what still works. On Linux and macOS
/// the window draws with OpenGL 2 or newer; on Windows with Direct3D 12 (its software renderer
/// included) or OpenGL 2. A virtual machine's or Remote Desktop's basic display adapter often
/// offers only OpenGL 1.1.
pub fn cannot_open(error: &str, os: Os) -> String {
    let graphics = [
        "opengl",
        "gl context",
        "glutin",
        "egl",
        "wgl",
        "pixel format",
        "no suitable",
        "wgpu",
        "adapter",
    ];
    let lower = error.to_lowercase();
    if !graphics.iter().any(|word| lower.contains(word)) {
        return format!("cannot open the window: {error}");
    }
    let needs = match os {
        Os::Windows => "neither Direct3D 12 (not even its software renderer) nor OpenGL 2",
        Os::Linux | Os::MacOs => "no OpenGL 2 or newer",
    };
    format!(
        "cannot open the window: this computer's graphics offer {needs}, which the window needs (a virtual machine or a Remote Desktop session often offers only OpenGL 1.1); the commands still work (shmimage put, get, check) ({error})"
    )
}

/// Says why the window could not open where nobody would see it on a console: a Windows GUI
/// program started by a double-click has none. Elsewhere the error line is enough.
pub fn tell_cannot_open(sentence: &str) {
    #[cfg(windows)]
    {
        rfd::MessageDialog::new()
            .set_level(rfd::MessageLevel::Error)
            .set_title("Shared Memory Image")
            .set_description(sentence)
            .show();
    }
    #[cfg(not(windows))]
    let _ = sentence;
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_window_that_cannot_open_says_whether_the_graphics_are_why() {
        use super::Os;
        let old_gl = super::cannot_open("glutin error: no suitable OpenGL config found", Os::Linux);
        assert!(
            old_gl.contains("no OpenGL 2") && old_gl.contains("commands still work"),
            "{old_gl}"
        );
        let no_adapter = super::cannot_open(
            "WGPU error: No suitable graphics adapter found",
            Os::Windows,
        );
        assert!(
            no_adapter.contains("neither Direct3D 12")
                && no_adapter.contains("commands still work"),
            "{no_adapter}"
        );
        let other = super::cannot_open("the X server went away", Os::MacOs);
        assert_eq!(other, "cannot open the window: the X server went away");
    }
}
