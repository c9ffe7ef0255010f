//! The sizes every layer refuses beyond: images (the codec), segments (the IPC layer) and raw
//! shapes agree on them, so they sit below all of them.

use crate::sentence::{Sentence, sentence};

/// Largest width or height accepted from a file or a segment.
pub const MAX_SIDE: u32 = 65_535;
/// Largest pixel count accepted: 256 megapixels, 1 GiB as RGBA8.
pub const MAX_PIXELS: u64 = 256 * 1024 * 1024;
/// The largest segment an image within the limits can need: 4 bytes a pixel at the pixel limit,
/// plus room for a PNG that does not compress (stored deflate blocks, chunk headers, a filter
/// byte a row) and the header. Readers refuse anything larger before mapping or allocating it.
pub const MAX_SEGMENT_BYTES: u64 = MAX_PIXELS * 4 + MAX_PIXELS * 4 / 64 + (1 << 20);

/// What a raw segment holds besides its pixels, rounded up: the header, and a page of slack.
/// So 4096 × 4096 raw (its pixels alone are 64 MiB) does not fit in 64 MiB, and the sentence
/// says 4095 × 4095.
const RAW_OVERHEAD_BYTES: u64 = 4096;

/// A size as a person reads it: "512 bytes", "64.0 MiB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What room for `bytes` means for images (4 bytes a pixel, raw): the one sentence that both
/// `check`'s size rows and a publish that does not fit give.
pub fn what_fits(bytes: u64) -> Sentence {
    let pixels = bytes.saturating_sub(RAW_OVERHEAD_BYTES) / 4;
    let side = pixels.isqrt();
    sentence!(
        "room for %{size}: the largest raw image that fits is about %{megapixels} MP (%{side} × %{side} pixels); PNG encoding or a smaller image is needed above that",
        size = human_bytes(bytes),
        megapixels = format!("{:.1}", pixels as f64 / 1e6),
        side = side
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_told_in_images() {
        let tmpfs = what_fits(64 << 20).english();
        assert!(tmpfs.starts_with("room for 64.0 MiB: the largest raw image that fits is about 16.8 MP (4095 × 4095 pixels)"), "{tmpfs}");
        assert!(
            what_fits(0)
                .english()
                .contains("about 0.0 MP (0 × 0 pixels)")
        );
        assert_eq!(human_bytes(512), "512 bytes");
    }
}
