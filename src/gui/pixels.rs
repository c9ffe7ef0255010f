//! Pixels for the screen: egui wants premultiplied RGBA no larger than the GPU's texture limit,
//! and the conversions are split across the cores, since for a large image they are most of
//! the time from the click to the picture.

use std::sync::Arc;

use image::RgbaImage;

use super::save::Original;
use crate::codec::Header;
use crate::protocol::Landing;

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
            .map(|part| scope.spawn(move || part.iter().all(|p| p.a() == 255)))
            .collect();
        parts.into_iter().all(|part| part.join().unwrap_or(false))
    })
}

/// The landed bytes are straight RGBA; egui's pixels are premultiplied. Opaque pixels are the
/// same either way, so only the others are touched. Split across the cores.
pub(super) fn premultiply(pixels: &mut [egui::Color32]) {
    use egui::Color32;
    let per_thread = per_thread(pixels.len());
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

/// Offers egui's pixel buffer for raw images that fit a texture.
pub(super) struct TextureLanding {
    pub(super) max_side: usize,
    pub(super) pixels: Option<Vec<egui::Color32>>,
}

impl Landing for TextureLanding {
    fn buffer_for(&mut self, header: &Header) -> Option<&mut [u8]> {
        let (width, height) = (header.width as usize, header.height as usize);
        if width > self.max_side || height > self.max_side {
            return None;
        }
        let pixels = self
            .pixels
            .insert(vec![egui::Color32::TRANSPARENT; width * height]);
        Some(bytemuck::cast_slice_mut(pixels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Encoding;

    #[test]
    fn premultiplying_landed_bytes_matches_eguis_own_conversion() {
        let image = RgbaImage::from_fn(97, 31, |x, y| {
            let alpha = if x % 3 == 0 { 255 } else { (x * 7 + y) as u8 };
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
        let mut landing = TextureLanding {
            max_side: 128,
            pixels: None,
        };
        landing
            .buffer_for(&header)
            .unwrap()
            .copy_from_slice(image.as_raw());
        let mut pixels = landing.pixels.unwrap();
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
            (
                egui::ColorImage::from_rgba_unmultiplied(size, image.as_raw()),
                true
            )
        );
        let opaque = RgbaImage::from_pixel(5, 3, image::Rgba([1, 2, 3, 255]));
        assert!(!to_color_image([5, 3], opaque.as_raw()).1);
    }
}
