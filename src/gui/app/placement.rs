//! Two plain starts of the app must not open one window exactly on top of the other: both
//! restore the same remembered place, and a class then sees one window. Each window says where
//! it is in a small file of its own in the user's segment directory (`window-<pid>.at`), locked
//! for as long as it lives, so that a file nobody holds is a closed window's. A window that
//! opens where a live one already is moves beside it, as "Open another window" places one.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::desktop::place_beside_rect;

/// How close two windows' corners must be to count as the same place.
const SAME_PLACE: f32 = 24.0;

/// This window's file, once it knows where it is.
#[derive(Default)]
pub struct Presence {
    /// The file and its path, removed when the window closes.
    file: Option<(File, PathBuf)>,
    /// What the file says now, to write only when the window moves.
    written: Option<egui::Rect>,
    /// Whether the start's check against the other windows was made.
    placed: bool,
}

impl Presence {
    /// Called every frame: on the first frame with a known place, moves the window beside a
    /// live one at the same place; then keeps this window's file up to date.
    pub fn tick(&mut self, ctx: &egui::Context, dir: &Path) {
        let (outer, monitor) = ctx.input(|i| (i.viewport().outer_rect, i.viewport().monitor_size));
        let Some(outer) = outer else {
            return;
        };
        if !self.placed {
            self.placed = true;
            let others = live_windows(dir);
            if let Some(beside) = crowded(outer, &others)
                .and_then(|other| place_beside_rect(other, outer.size(), monitor?))
            {
                log::info!(
                    "a live window is at {:?}: opening beside it, at {beside:?}",
                    outer.min
                );
                ctx.send_viewport_cmd(egui::ViewportCommand::OuterPosition(beside.into()));
                return;
            }
        }
        if self.written != Some(outer) {
            self.write(dir, outer);
        }
    }

    fn write(&mut self, dir: &Path, outer: egui::Rect) {
        if self.file.is_none() {
            self.file = own_file(dir);
        }
        let Some((file, _)) = &mut self.file else {
            return;
        };
        let text = format!(
            "{} {} {} {}\n",
            outer.min.x, outer.min.y, outer.max.x, outer.max.y
        );
        let written = file.set_len(0).is_ok()
            && file.rewind().is_ok()
            && file.write_all(text.as_bytes()).is_ok();
        if written {
            self.written = Some(outer);
        }
    }
}

fn file_name(pid: u32) -> String {
    format!("window-{pid}.at")
}

impl Drop for Presence {
    fn drop(&mut self) {
        if let Some((file, path)) = self.file.take() {
            // Removed while still locked, so no other window takes it for a closed one's first.
            let _ = std::fs::remove_file(path);
            drop(file);
        }
    }
}

/// This process's file, made new and locked (a file of that name is a dead process's, whose
/// pid we now have: it is replaced).
fn own_file(dir: &Path) -> Option<(File, PathBuf)> {
    let path = dir.join(file_name(std::process::id()));
    let _ = std::fs::remove_file(&path);
    let file = crate::safe_fs::open_file(&path, crate::safe_fs::OpenFor::CreatingNew).ok()?;
    file.try_lock().ok()?;
    Some((file, path))
}

/// The places of the other live windows: files whose lock is held. A file nobody holds is a
/// closed (or killed) window's, and is removed.
fn live_windows(dir: &Path) -> Vec<egui::Rect> {
    let own = file_name(std::process::id());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut places = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == own || parse_name(&name).is_none() {
            continue;
        }
        let path: PathBuf = entry.path();
        let Ok(mut file) = crate::safe_fs::open_file(&path, crate::safe_fs::OpenFor::Reading)
        else {
            continue;
        };
        // Taken: nobody holds it, so its window is gone.
        if file.try_lock().is_ok() {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let mut text = String::new();
        if (&mut file).take(256).read_to_string(&mut text).is_ok()
            && let Some(rect) = parse_rect(&text)
        {
            places.push(rect);
        }
    }
    places
}

fn parse_name(name: &str) -> Option<u32> {
    name.strip_prefix("window-")?
        .strip_suffix(".at")?
        .parse()
        .ok()
}

fn parse_rect(text: &str) -> Option<egui::Rect> {
    let numbers: Vec<f32> = text
        .split_whitespace()
        .map(|n| n.parse().ok().filter(|v: &f32| v.is_finite()))
        .collect::<Option<_>>()?;
    match numbers[..] {
        [x0, y0, x1, y1] if x1 > x0 && y1 > y0 => Some(egui::Rect::from_min_max(
            egui::pos2(x0, y0),
            egui::pos2(x1, y1),
        )),
        _ => None,
    }
}

/// The live window this one would cover: one whose corner is at the same place.
fn crowded(outer: egui::Rect, others: &[egui::Rect]) -> Option<egui::Rect> {
    others
        .iter()
        .copied()
        .find(|other| other.min.distance(outer.min) <= SAME_PLACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x: f32, y: f32) -> egui::Rect {
        egui::Rect::from_min_size(egui::pos2(x, y), egui::vec2(960.0, 640.0))
    }

    #[test]
    fn a_window_at_a_live_ones_place_is_crowded_and_one_elsewhere_is_not() {
        let others = [rect(100.0, 50.0), rect(1200.0, 50.0)];
        assert_eq!(crowded(rect(110.0, 60.0), &others), Some(others[0]));
        assert_eq!(crowded(rect(600.0, 50.0), &others), None);
        assert_eq!(parse_rect("1 2 961 642\n"), Some(rect(1.0, 2.0)));
        assert_eq!(parse_rect("1 2 0 642"), None);
        assert_eq!(parse_rect("NaN 2 3 4"), None);
        assert_eq!(parse_rect("garbage"), None);
        assert_eq!(parse_name("window-4711.at"), Some(4711));
        assert_eq!(parse_name("window-x.at"), None);
    }

    /// Two windows of this process's kind in one folder: the first one's file is live (locked),
    /// and a file nobody holds is removed as a closed window's.
    #[test]
    fn live_windows_are_the_locked_files_and_dead_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join(file_name(1));
        std::fs::write(&live, "10 20 970 660\n").unwrap();
        let holder = File::open(&live).unwrap();
        holder.lock().unwrap();
        let dead = dir.path().join(file_name(2));
        std::fs::write(&dead, "0 0 10 10\n").unwrap();
        let places = live_windows(dir.path());
        assert_eq!(
            places,
            [egui::Rect::from_min_max(
                egui::pos2(10.0, 20.0),
                egui::pos2(970.0, 660.0)
            )]
        );
        assert!(!dead.exists());
        assert!(live.exists());
    }
}
