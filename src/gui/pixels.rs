//! Pixels for the screen: egui wants premultiplied RGBA no larger than the GPU's texture limit,
//! and the conversions are split across the cores, since for a large image they are most of
//! the time from the click to the picture.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use image::RgbaImage;

use super::save::Original;
use crate::codec::Header;
use crate::protocol::{Landing, Lent, PartLanded};

/// A picture ready to become a texture, already scaled to fit the GPU's texture limit.
pub struct DisplayImage {
    /// Shared with the texture, not copied: egui drops its reference once it has uploaded them.
    pub pixels: Arc<egui::ColorImage>,
    /// Size of the image itself, before any downscaling for display.
    pub full_size: [usize; 2],
    /// What Save as… writes.
    pub original: Original,
}

impl DisplayImage {
    /// An image whose texture pixels are the image itself (opaque, and not downscaled).
    pub(super) fn opaque(pixels: egui::ColorImage) -> Self {
        let pixels = Arc::new(pixels);
        Self {
            full_size: pixels.size,
            original: Original::Texture(Arc::clone(&pixels)),
            pixels,
        }
    }
}

/// How many threads the per-pixel passes use, and how many pixels each takes.
fn per_thread(pixels: usize) -> usize {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    pixels.div_ceil(threads).max(1)
}

/// Whether every pixel is opaque (then straight and premultiplied alpha are the same bytes).
/// Split across the cores, as the premultiply it saves.
pub(super) fn is_opaque(pixels: &[egui::Color32]) -> bool {
    std::thread::scope(|scope| {
        let parts: Vec<_> = pixels
            .chunks(per_thread(pixels.len()))
            .map(|part| scope.spawn(move || all_opaque(part)))
            .collect();
        parts.into_iter().all(|part| part.join().unwrap_or(false))
    })
}

/// Every pixel's four bytes ANDed together, a block at a time (so a translucent picture stops
/// early): the alpha byte of the result is 255 only if every pixel's is. Written this way the
/// compiler vectorizes it; a test of each pixel's alpha in turn took 10-20 ms at 16 MP here.
fn all_opaque(pixels: &[egui::Color32]) -> bool {
    pixels.chunks(16 * 1024).all(|block| {
        let all = block.iter().fold(u32::MAX, |all, pixel| {
            all & u32::from_ne_bytes(pixel.to_array())
        });
        all.to_ne_bytes()[3] == 255
    })
}

/// The straight bytes of `pixels` (what Save as… writes), and `pixels` premultiplied, in one
/// pass split across the cores: each thread copies a block out, then premultiplies it while
/// it is in the cache.
fn keep_straight_and_premultiply(pixels: &mut [egui::Color32]) -> Vec<u8> {
    use egui::Color32;
    const BLOCK: usize = 16 * 1024;
    let mut straight = vec![0u8; pixels.len() * 4];
    let per_thread = per_thread(pixels.len());
    std::thread::scope(|scope| {
        for (part, kept) in pixels
            .chunks_mut(per_thread)
            .zip(straight.chunks_mut(per_thread * 4))
        {
            scope.spawn(move || {
                for (block, kept) in part.chunks_mut(BLOCK).zip(kept.chunks_mut(BLOCK * 4)) {
                    kept.copy_from_slice(bytemuck::cast_slice(block));
                    for pixel in block.iter_mut().filter(|p| p.a() != 255) {
                        let [r, g, b, a] = pixel.to_array();
                        *pixel = Color32::from_rgba_unmultiplied(r, g, b, a);
                    }
                }
            });
        }
    });
    straight
}

/// egui's premultiplied pixels from straight RGBA, and whether any pixel was translucent.
/// Opaque images (photos, most screenshots) need no arithmetic, and the work is split across
/// the cores, as for a large image it is most of the time from the click to the picture.
fn to_color_image(size: [usize; 2], rgba: &[u8]) -> (egui::ColorImage, bool) {
    use egui::Color32;
    let mut pixels = vec![Color32::TRANSPARENT; rgba.len() / 4];
    let per_thread = per_thread(pixels.len());
    let translucent = std::thread::scope(|scope| {
        let parts: Vec<_> = pixels
            .chunks_mut(per_thread)
            .zip(rgba.chunks(per_thread * 4))
            .map(|(out, src)| {
                scope.spawn(move || {
                    let mut translucent = false;
                    for (pixel, p) in out.iter_mut().zip(src.chunks_exact(4)) {
                        *pixel = if p[3] == 255 {
                            Color32::from_rgb(p[0], p[1], p[2])
                        } else {
                            translucent = true;
                            Color32::from_rgba_unmultiplied(p[0], p[1], p[2], p[3])
                        };
                    }
                    translucent
                })
            })
            .collect();
        parts.into_iter().any(|part| part.join().unwrap_or(true))
    });
    (egui::ColorImage::new(size, pixels), translucent)
}

/// Converts to egui's format, downscaling first if a side exceeds what the GPU can hold.
pub fn display_image(image: RgbaImage, max_side: usize) -> DisplayImage {
    let full_size = [image.width() as usize, image.height() as usize];
    let max_side = max_side.max(1) as u32;
    if image.width() > max_side || image.height() > max_side {
        let scale = f64::from(max_side) / f64::from(image.width().max(image.height()));
        let width = ((f64::from(image.width()) * scale).round() as u32).clamp(1, max_side);
        let height = ((f64::from(image.height()) * scale).round() as u32).clamp(1, max_side);
        let thumbnail = image::imageops::thumbnail(&image, width, height);
        let size = [thumbnail.width() as usize, thumbnail.height() as usize];
        return DisplayImage {
            pixels: Arc::new(to_color_image(size, thumbnail.as_raw()).0),
            full_size,
            original: Original::Straight(Arc::new(image)),
        };
    }
    match to_color_image(full_size, image.as_raw()) {
        (pixels, false) => DisplayImage::opaque(pixels),
        (pixels, true) => DisplayImage {
            pixels: Arc::new(pixels),
            full_size,
            original: Original::Straight(Arc::new(image)),
        },
    }
}

/// The pixels of a picture the window no longer shows, once egui has uploaded them: the next
/// fetch of the same size lands in them. A fresh buffer costs a page fault for every 4 KiB the
/// copy first touches, which is most of a large copy's time (measured here: 64 MiB copied into
/// fresh pages in 37-48 ms, into pages already touched in 13-16 ms). The price is one picture's
/// pixels held for a while, so they go once no fetch has taken them for [`SPARE_KEPT_FOR`]:
/// a run of loads or Follow's frames reuse them, and an idle window holds only what it shows.
static SPARE: Mutex<Option<Spare>> = Mutex::new(None);

/// How long the pixels of a picture replaced wait for the next fetch.
pub(super) const SPARE_KEPT_FOR: Duration = Duration::from_secs(5);

struct Spare {
    pixels: Vec<egui::Color32>,
    kept_at: Instant,
}

/// Keeps `pixels` for the next fetch, if nothing else holds them any more (egui has uploaded
/// them, and no Save as… is writing them).
pub(super) fn recycle(pixels: Arc<egui::ColorImage>) {
    keep_spare(&SPARE, pixels);
}

/// Lets go of pixels kept longer than [`SPARE_KEPT_FOR`], on a thread of their own (giving
/// 64 MB back to the OS takes milliseconds the UI thread does not wait for). Returns how long
/// until the pixels still kept are stale: the window draws a frame then, to let them go.
pub(super) fn let_go_of_a_stale_spare() -> Option<Duration> {
    match take_stale(&SPARE, SPARE_KEPT_FOR) {
        Ok(stale) => {
            let _ = std::thread::Builder::new()
                .name("let go of pixels".into())
                .spawn(move || drop(stale));
            None
        }
        Err(wait) => wait,
    }
}

fn keep_spare(spare: &Mutex<Option<Spare>>, pixels: Arc<egui::ColorImage>) {
    if let Ok(image) = Arc::try_unwrap(pixels) {
        *spare.lock().unwrap_or_else(PoisonError::into_inner) = Some(Spare {
            pixels: image.pixels,
            kept_at: Instant::now(),
        });
    }
}

/// The kept pixels if they are older than `after`, else how long until they are (`None`:
/// nothing is kept).
fn take_stale(
    spare: &Mutex<Option<Spare>>,
    after: Duration,
) -> Result<Vec<egui::Color32>, Option<Duration>> {
    let mut spare = spare.lock().unwrap_or_else(PoisonError::into_inner);
    let age = spare.as_ref().ok_or(None)?.kept_at.elapsed();
    if age < after {
        return Err(Some(after - age));
    }
    spare.take().map(|stale| stale.pixels).ok_or(None)
}

/// A buffer of `len` pixels to copy into: the spare one if it has that size, else one the OS
/// zeroes page by page as the copy first touches it (`vec![TRANSPARENT; len]` would write it
/// all once more before the copy). A spare of another size is let go: the pictures changed.
fn take_spare(spare: &Mutex<Option<Spare>>, len: usize) -> Vec<egui::Color32> {
    match spare.lock().unwrap_or_else(PoisonError::into_inner).take() {
        Some(spare) if spare.pixels.len() == len => spare.pixels,
        _ => bytemuck::allocation::zeroed_vec(len),
    }
}

/// Offers egui's pixel buffer for raw images that fit a texture, and looks at each part for
/// translucent pixels as it lands.
pub(super) struct TextureLanding {
    max_side: usize,
    pixels: Option<Vec<egui::Color32>>,
    parts: Opacity,
}

/// What the window learns of each part of a raw picture as it lands, while the part is in the
/// cache: whether it has a translucent pixel. An opaque picture then needs no pass of its own
/// (it is the same premultiplied or not); a translucent one gets one, split across the cores.
/// (Premultiplying each part as it landed was tried: on one thread inside the copy it made a
/// translucent 16 MP picture slower, 131-189 ms to the texture instead of 120-138 ms.)
#[derive(Default)]
struct Opacity {
    /// The buffer's length.
    len: usize,
    /// How many bytes have landed part by part.
    seen: usize,
    /// Whether a part had a translucent pixel.
    translucent: bool,
}

impl PartLanded for Opacity {
    fn landed(&mut self, part: &[u8]) {
        self.seen += part.len();
        if !self.translucent {
            self.translucent = bytemuck::try_cast_slice::<u8, egui::Color32>(part)
                .map_or(true, |pixels| !all_opaque(pixels));
        }
    }
}

impl TextureLanding {
    pub(super) fn new(max_side: usize) -> Self {
        Self {
            max_side,
            pixels: None,
            parts: Opacity::default(),
        }
    }

    /// The picture that landed, ready for the texture, in a `full_size` image; `None` if
    /// nothing landed (the image was decoded instead).
    pub(super) fn into_display_image(self, full_size: [usize; 2]) -> Option<DisplayImage> {
        let mut pixels = self.pixels?;
        let parts = self.parts;
        // Every part was looked at as it landed (shmimage's own segments), unless the protocol
        // copied otherwise (a native key): then it is looked at now.
        let translucent = if parts.seen == parts.len {
            parts.translucent
        } else {
            !is_opaque(&pixels)
        };
        let straight = translucent.then(|| keep_straight_and_premultiply(&mut pixels));
        let pixels = egui::ColorImage::new(full_size, pixels);
        let Some(straight) = straight else {
            return Some(DisplayImage::opaque(pixels));
        };
        let pixels = Arc::new(pixels);
        let [width, height] = full_size.map(|side| side as u32);
        let original = RgbaImage::from_raw(width, height, straight).map_or_else(
            || Original::Texture(Arc::clone(&pixels)),
            |straight| Original::Straight(Arc::new(straight)),
        );
        Some(DisplayImage {
            pixels,
            full_size,
            original,
        })
    }
}

impl Landing for TextureLanding {
    fn buffer_for(&mut self, header: &Header) -> Option<Lent<'_>> {
        let (width, height) = (header.width as usize, header.height as usize);
        if width > self.max_side || height > self.max_side {
            return None;
        }
        let pixels = self.pixels.insert(take_spare(&SPARE, width * height));
        self.parts = Opacity {
            len: pixels.len() * 4,
            ..Opacity::default()
        };
        Some(Lent {
            bytes: bytemuck::cast_slice_mut(pixels),
            parts: &mut self.parts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Encoding;

    #[test]
    fn a_picture_no_longer_shown_takes_the_next_fetch_of_its_size() {
        let spare = Mutex::new(None);
        let shown = Arc::new(egui::ColorImage::filled([4, 3], egui::Color32::RED));
        let address = shown.pixels.as_ptr();
        let saving = Arc::clone(&shown);
        keep_spare(&spare, shown);
        assert!(spare.lock().unwrap().is_none(), "still held by Save as…");
        keep_spare(&spare, saving);
        let reused = take_spare(&spare, 12);
        assert_eq!(
            reused.as_ptr(),
            address,
            "the same pixels, not a new buffer"
        );
        assert!(spare.lock().unwrap().is_none());
        keep_spare(&spare, Arc::new(egui::ColorImage::new([4, 3], reused)));
        let other = take_spare(&spare, 20);
        assert_eq!(other, vec![egui::Color32::TRANSPARENT; 20]);
        assert!(
            spare.lock().unwrap().is_none(),
            "a spare of another size is let go"
        );
        keep_spare(&spare, Arc::new(egui::ColorImage::new([5, 4], other)));
        let wait = take_stale(&spare, Duration::from_secs(60)).unwrap_err();
        assert!(
            wait.is_some_and(|wait| wait > Duration::from_secs(59)),
            "still fresh"
        );
        assert_eq!(take_stale(&spare, Duration::ZERO).map(|p| p.len()), Ok(20));
        assert!(spare.lock().unwrap().is_none(), "a stale spare is let go");
        assert_eq!(take_stale(&spare, Duration::ZERO), Err(None));
    }

    #[test]
    fn one_translucent_pixel_anywhere_makes_a_picture_translucent() {
        let mut pixels = vec![egui::Color32::from_rgb(1, 2, 3); 100_000];
        assert!(is_opaque(&pixels));
        for at in [0, 16 * 1024 - 1, 16 * 1024, 99_999] {
            pixels[at] = egui::Color32::from_rgba_unmultiplied(1, 2, 3, 254);
            assert!(!is_opaque(&pixels), "pixel {at}");
            pixels[at] = egui::Color32::from_rgb(1, 2, 3);
        }
        assert!(is_opaque(&[]));
    }

    /// A translucent picture, landed part by part as shmimage's segments land (opaque parts
    /// first) or whole as a native key's copy lands: egui's own premultiplied pixels on screen,
    /// and the straight ones for Save as….
    #[test]
    fn premultiplying_landed_bytes_matches_eguis_own_conversion() {
        let image = RgbaImage::from_fn(97, 31, |x, y| {
            let alpha = if x % 3 == 0 || y < 10 {
                255
            } else {
                (x * 7 + y) as u8
            };
            image::Rgba([x as u8, y as u8, (x ^ y) as u8, alpha])
        });
        let header = Header {
            encoding: Encoding::Raw,
            width: 97,
            height: 31,
            publisher_pid: 1,
            payload_len: 97 * 31 * 4,
            generation: 1,
            payload_crc: 0,
        };
        let expected = egui::ColorImage::from_rgba_unmultiplied([97, 31], image.as_raw());
        for part_by_part in [true, false] {
            let mut landing = TextureLanding::new(128);
            let lent = landing.buffer_for(&header).unwrap();
            lent.bytes.copy_from_slice(image.as_raw());
            if part_by_part {
                for part in lent.bytes.chunks(400) {
                    lent.parts.landed(part);
                }
            }
            let shown = landing.into_display_image([97, 31]).unwrap();
            assert_eq!(*shown.pixels, expected, "part by part: {part_by_part}");
            match shown.original {
                Original::Straight(straight) => assert_eq!(*straight, image),
                Original::Texture(_) => panic!("a translucent picture saved premultiplied"),
            }
        }
        let opaque = RgbaImage::from_pixel(5, 3, image::Rgba([1, 2, 3, 255]));
        let mut landing = TextureLanding::new(128);
        let lent = landing
            .buffer_for(&Header {
                width: 5,
                height: 3,
                payload_len: 60,
                ..header
            })
            .unwrap();
        lent.bytes.copy_from_slice(opaque.as_raw());
        lent.parts.landed(lent.bytes);
        let shown = landing.into_display_image([5, 3]).unwrap();
        assert!(matches!(shown.original, Original::Texture(_)));
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
            (
                egui::ColorImage::from_rgba_unmultiplied(size, image.as_raw()),
                true
            )
        );
        let opaque = RgbaImage::from_pixel(5, 3, image::Rgba([1, 2, 3, 255]));
        assert!(!to_color_image([5, 3], opaque.as_raw()).1);
    }
}
