//! Work that must not run on the UI thread (dialogs, decoding, encoding, lock waits, copies):
//! each job runs on its own thread and reports back through a channel, then wakes the UI.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use image::RgbaImage;

use crate::codec::{self, Encoding, Header};
use crate::share::{self, Endpoint, Inspection, Publication, ShareError};

/// A picture ready to become a texture, already scaled to fit the GPU's texture limit.
pub struct DisplayImage {
    pub pixels: egui::ColorImage,
    /// Size of the image itself, before any downscaling for display.
    pub full_size: [usize; 2],
}

/// What a finished job reports. One is sent per job, so the size of the large variants is of no
/// concern.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// The dialog was cancelled: nothing changes.
    Cancelled,
    /// No native dialog could be shown at all.
    DialogUnavailable,
    Published {
        image: DisplayImage,
        publication: Publication,
        path: PathBuf,
        note: Option<String>,
        elapsed: Duration,
    },
    LoadFailed {
        path: Option<PathBuf>,
        error: ShareError,
    },
    Fetched {
        image: DisplayImage,
        header: Header,
        segment_size: usize,
        elapsed: Duration,
        note: Option<String>,
    },
    FetchFailed(ShareError),
    Inspected(Result<Inspection, ShareError>),
    /// Follow mode's cheap poll: the newest live generation, if any.
    Probed(Result<Option<u64>, ShareError>),
    /// A job could not run or died of a bug; the window must not stay busy because of it.
    JobFailed(String),
}

/// Test seam: while the gate is closed, every job waits at it before it starts, so a test can
/// keep a job in flight for as many frames as it likes, without a clock.
#[derive(Clone, Default)]
pub struct JobGate(Arc<(Mutex<bool>, Condvar)>);

impl JobGate {
    /// Longest a job waits at a gate nobody opens: a test that forgets to open it fails on its
    /// own assertions instead of hanging.
    const LONGEST_HOLD: Duration = Duration::from_secs(60);

    pub fn closed() -> Self {
        Self::default()
    }

    pub fn open(&self) {
        let (opened, changed) = &*self.0;
        *opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        changed.notify_all();
    }

    fn pass(&self) {
        let (opened, changed) = &*self.0;
        let guard = opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = changed.wait_timeout_while(guard, Self::LONGEST_HOLD, |opened| !*opened);
    }
}

pub struct Worker {
    results: Receiver<Outcome>,
    sender: Sender<Outcome>,
    repaint: egui::Context,
    gate: Option<JobGate>,
}

impl Worker {
    pub fn new(repaint: egui::Context) -> Self {
        let (sender, results) = channel();
        Self {
            results,
            sender,
            repaint,
            gate: None,
        }
    }

    /// Test seam: every job from now on waits at `gate` before it starts.
    pub fn hold_jobs_at(&mut self, gate: JobGate) {
        self.gate = Some(gate);
    }

    /// Runs `job` on a new thread; its outcome arrives through [`Worker::poll`].
    pub fn spawn(&self, job: impl FnOnce() -> Outcome + Send + 'static) {
        let sender = self.sender.clone();
        let repaint = self.repaint.clone();
        let gate = self.gate.clone();
        let spawned = std::thread::Builder::new()
            .name("shmimage-worker".to_owned())
            .spawn(move || {
                if let Some(gate) = gate {
                    gate.pass();
                }
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                    .unwrap_or_else(|panic| {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown error".to_owned());
                        Outcome::JobFailed(what)
                    });
                let _ = sender.send(outcome);
                repaint.request_repaint();
            });
        if let Err(err) = spawned {
            log::error!("cannot start a worker thread: {err}");
            let _ = self.sender.send(Outcome::JobFailed(format!(
                "cannot start a worker thread: {err}"
            )));
        }
    }

    pub fn poll(&self) -> Option<Outcome> {
        self.results.try_recv().ok()
    }

    /// Drops a value on a worker thread: a publication's drop detaches, which takes the lock.
    pub fn drop_in_background<T: Send + 'static>(value: T) {
        let _ = std::thread::Builder::new()
            .name("shmimage-detach".to_owned())
            .spawn(move || drop(value));
    }
}

/// Decodes `path`, shows it and publishes it (Qt's `loadFromFile`).
pub fn load_and_publish(
    endpoint: Endpoint,
    path: PathBuf,
    encoding: Encoding,
    max_side: usize,
) -> Outcome {
    let started = Instant::now();
    let loaded = match codec::decode_file(&path) {
        Ok(loaded) => loaded,
        Err(error) => {
            return Outcome::LoadFailed {
                path: Some(path),
                error: error.into(),
            };
        }
    };
    match share::publish(&endpoint, &loaded.image, encoding) {
        Ok(publication) => Outcome::Published {
            image: display_image(loaded.image, max_side),
            // What the file needed (e.g. first frame of a GIF) and what publishing cleaned up.
            note: join_notes(loaded.note, publication.note.clone()),
            publication,
            path,
            elapsed: started.elapsed(),
        },
        Err(error) => Outcome::LoadFailed {
            path: Some(path),
            error,
        },
    }
}

/// Fetches and shows the shared image (Qt's `loadFromMemory`).
/// Both notes, or either, as one sentence fragment.
fn join_notes(first: Option<String>, second: Option<String>) -> Option<String> {
    match (first, second) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

/// Qt's `loadFromMemory` for the window. Raw images that fit a texture are copied out of the
/// segment straight into egui's pixel buffer: no second 64 MB buffer and no conversion pass,
/// only a premultiply of the pixels that are not opaque.
pub fn fetch(endpoint: Endpoint, max_side: usize) -> Outcome {
    let started = Instant::now();
    if endpoint.mode.is_qt() {
        return match share::fetch(&endpoint) {
            Ok(fetched) => Outcome::Fetched {
                image: display_image(fetched.image, max_side),
                header: fetched.header,
                segment_size: fetched.segment_size,
                elapsed: started.elapsed(),
                note: fetched.note,
            },
            Err(error) => Outcome::FetchFailed(error),
        };
    }
    let landing = |header: &Header| {
        let fits = header.width as usize <= max_side && header.height as usize <= max_side;
        if header.encoding == Encoding::Raw && fits {
            let pixels = header.width as usize * header.height as usize;
            Landing::Pixels(vec![egui::Color32::TRANSPARENT; pixels])
        } else {
            Landing::Bytes(vec![0; header.payload_len as usize])
        }
    };
    let landed = match share::fetch_into(&endpoint, landing) {
        Ok(landed) => landed,
        Err(error) => return Outcome::FetchFailed(error),
    };
    let header = landed.header;
    let full_size = [header.width as usize, header.height as usize];
    let image = match landed.payload {
        Landing::Pixels(mut pixels) => {
            premultiply(&mut pixels);
            DisplayImage {
                pixels: egui::ColorImage::new(full_size, pixels),
                full_size,
            }
        }
        Landing::Bytes(bytes) => match codec::decode_payload(&header, bytes) {
            Ok(image) => display_image(image, max_side),
            Err(error) => return Outcome::FetchFailed(error.into()),
        },
    };
    log::info!(
        "fetch {:.1} ms (copy {:.1}, checksum {:.1}), ready for the texture after {:.1} ms",
        landed.stages.total.as_secs_f64() * 1e3,
        landed.stages.copy.as_secs_f64() * 1e3,
        landed.stages.checksum.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );
    Outcome::Fetched {
        image,
        header,
        segment_size: landed.segment_size,
        elapsed: started.elapsed(),
        note: None,
    }
}

/// Where a fetch lands: egui's pixels for raw images that fit a texture, bytes otherwise.
enum Landing {
    Pixels(Vec<egui::Color32>),
    Bytes(Vec<u8>),
}

impl AsMut<[u8]> for Landing {
    fn as_mut(&mut self) -> &mut [u8] {
        match self {
            Self::Pixels(pixels) => bytemuck::cast_slice_mut(pixels),
            Self::Bytes(bytes) => bytes,
        }
    }
}

/// The landed bytes are straight RGBA; egui's pixels are premultiplied. Opaque pixels are the
/// same either way, so only the others are touched. Split across the cores.
fn premultiply(pixels: &mut [egui::Color32]) {
    use egui::Color32;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let per_thread = pixels.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for part in pixels.chunks_mut(per_thread) {
            scope.spawn(move || {
                for pixel in part.iter_mut().filter(|p| p.a() != 255) {
                    let [r, g, b, a] = pixel.to_array();
                    *pixel = Color32::from_rgba_unmultiplied(r, g, b, a);
                }
            });
        }
    });
}

/// egui wants premultiplied pixels. Opaque images (photos, most screenshots) need no arithmetic,
/// and the work is split across the cores: for 16 MP this was the largest part of the time from
/// the click to the picture.
fn to_color_image(size: [usize; 2], rgba: &[u8]) -> egui::ColorImage {
    use egui::Color32;
    let mut pixels = vec![Color32::TRANSPARENT; rgba.len() / 4];
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let per_thread = pixels.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (out, src) in pixels
            .chunks_mut(per_thread)
            .zip(rgba.chunks(per_thread * 4))
        {
            scope.spawn(move || {
                for (pixel, p) in out.iter_mut().zip(src.chunks_exact(4)) {
                    *pixel = if p[3] == 255 {
                        Color32::from_rgb(p[0], p[1], p[2])
                    } else {
                        Color32::from_rgba_unmultiplied(p[0], p[1], p[2], p[3])
                    };
                }
            });
        }
    });
    egui::ColorImage::new(size, pixels)
}

/// Converts to egui's format, downscaling first if a side exceeds what the GPU can hold.
pub fn display_image(image: RgbaImage, max_side: usize) -> DisplayImage {
    let full_size = [image.width() as usize, image.height() as usize];
    let max_side = max_side.max(1) as u32;
    let image = if image.width() > max_side || image.height() > max_side {
        let scale = f64::from(max_side) / f64::from(image.width().max(image.height()));
        let width = ((f64::from(image.width()) * scale).round() as u32).clamp(1, max_side);
        let height = ((f64::from(image.height()) * scale).round() as u32).clamp(1, max_side);
        image::imageops::thumbnail(&image, width, height)
    } else {
        image
    };
    let size = [image.width() as usize, image.height() as usize];
    DisplayImage {
        pixels: to_color_image(size, image.as_raw()),
        full_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn premultiplying_landed_bytes_matches_eguis_own_conversion() {
        let image = RgbaImage::from_fn(97, 31, |x, y| {
            let alpha = if x % 3 == 0 { 255 } else { (x * 7 + y) as u8 };
            image::Rgba([x as u8, y as u8, (x ^ y) as u8, alpha])
        });
        let mut pixels = vec![egui::Color32::TRANSPARENT; 97 * 31];
        let mut landing = Landing::Pixels(std::mem::take(&mut pixels));
        landing.as_mut().copy_from_slice(image.as_raw());
        let Landing::Pixels(mut pixels) = landing else {
            unreachable!()
        };
        premultiply(&mut pixels);
        assert_eq!(
            egui::ColorImage::new([97, 31], pixels),
            egui::ColorImage::from_rgba_unmultiplied([97, 31], image.as_raw())
        );
    }

    #[test]
    fn the_fast_conversion_matches_eguis_own() {
        let image = RgbaImage::from_fn(301, 77, |x, y| {
            let alpha = if x % 3 == 0 { 255 } else { (x * 7 + y) as u8 };
            image::Rgba([x as u8, y as u8, (x ^ y) as u8, alpha])
        });
        let size = [301, 77];
        assert_eq!(
            to_color_image(size, image.as_raw()),
            egui::ColorImage::from_rgba_unmultiplied(size, image.as_raw())
        );
    }

    #[test]
    fn a_job_that_panics_is_reported_instead_of_leaving_the_window_busy() {
        let worker = Worker::new(egui::Context::default());
        worker.spawn(|| panic!("boom"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let outcome = loop {
            if let Some(outcome) = worker.poll() {
                break outcome;
            }
            assert!(Instant::now() < deadline, "no outcome");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(matches!(outcome, Outcome::JobFailed(what) if what == "boom"));
    }
}
