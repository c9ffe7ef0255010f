//! The sizes every layer refuses beyond: images (the codec), segments (the IPC layer) and raw
//! shapes agree on them, so they sit below all of them.

/// Largest width or height accepted from a file or a segment.
pub const MAX_SIDE: u32 = 65_535;
/// Largest pixel count accepted: 256 megapixels, 1 GiB as RGBA8.
pub const MAX_PIXELS: u64 = 256 * 1024 * 1024;
/// The largest segment an image within the limits can need: 4 bytes a pixel at the pixel limit,
/// plus room for a PNG that does not compress (stored deflate blocks, chunk headers, a filter
/// byte a row) and the header. Readers refuse anything larger before mapping or allocating it.
pub const MAX_SEGMENT_BYTES: u64 = MAX_PIXELS * 4 + MAX_PIXELS * 4 / 64 + (1 << 20);
