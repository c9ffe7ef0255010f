//! Save as…: writes the shown image, at its full size and with straight alpha, to a file whose
//! name picks the format. The window keeps what this needs with the texture ([`Original`]), so
//! saving works after the segment has gone, and never re-reads another process's memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{DynamicImage, ImageFormat, RgbaImage};

use super::language::tr;

/// The image as it was before it became a texture. An opaque image that fits a texture is the
/// texture's own pixels (premultiplied and straight alpha are the same when every pixel is
/// opaque), shared with egui instead of copied. Anything else, translucent or downscaled for
/// the GPU, is kept as the straight, full-size image it was made from.
#[derive(Clone)]
pub enum Original {
    Texture(Arc<egui::ColorImage>),
    Straight(Arc<RgbaImage>),
}

impl Original {
    /// The full-size image with straight alpha.
    fn to_rgba(&self) -> Option<std::borrow::Cow<'_, RgbaImage>> {
        use std::borrow::Cow;
        match self {
            Self::Straight(image) => Some(Cow::Borrowed(image)),
            Self::Texture(texture) => {
                let [width, height] = texture.size;
                RgbaImage::from_raw(
                    u32::try_from(width).ok()?,
                    u32::try_from(height).ok()?,
                    bytemuck::cast_slice(&texture.pixels).to_vec(),
                )
                .map(Cow::Owned)
            }
        }
    }
}

/// The name Save as… suggests: the key (what the image is shared under), as a PNG.
pub fn suggested_file_name(key: &str) -> String {
    let stem: String = key
        .chars()
        .map(|c| {
            if c.is_control() || r#"/\:*?"<>|"#.contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let stem = stem.trim_matches(|c: char| c == '.' || c.is_whitespace());
    format!("{}.png", if stem.is_empty() { "image" } else { stem })
}

/// Writes `original` to `path`, in the format its extension names (PNG when it has none, unless
/// that name exists: the dialog asked about the name typed). The file is written beside its
/// destination and renamed over it ([`crate::output::write_replacing`]), so a failed save never
/// leaves a half-written file where an older one was, and no planted link is followed. Returns
/// the path written and a note when the format could not keep something (transparency, in a
/// JPEG).
pub fn save(original: &Original, path: &Path) -> Result<(PathBuf, Option<String>), String> {
    let mut path = path.to_path_buf();
    if path.extension().is_none() {
        path.set_extension("png");
        // The dialog asked about replacing the name typed, not this one.
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(tr!(
                "%{name} already exists. Save as… again and choose %{name} itself to replace it, or type another name.",
                name = file_name(&path)
            ));
        }
    }
    let format = ImageFormat::from_path(&path).map_err(|_| {
        tr!(
            "Cannot save as %{name}: its extension names no image format shmimage can write. Pick a name ending in .png, .jpg, .webp, .bmp or .tiff.",
            name = file_name(&path)
        )
    })?;
    let image = original
        .to_rgba()
        .ok_or_else(|| tr!("The shown image is too large to save."))?;
    let translucent = image.pixels().any(|p| p[3] != 255);
    let (image, note) = if format_keeps_alpha(format) {
        (DynamicImage::ImageRgba8(image.into_owned()), None)
    } else {
        let note = translucent.then(|| {
            tr!(
                "%{format} has no transparency: translucent pixels were saved opaque",
                format = format!("{format:?}").to_uppercase()
            )
        });
        (
            DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(image.into_owned()).to_rgb8()),
            note,
        )
    };
    if let Err(error) =
        crate::output::write_replacing(&path, |writer| image.write_to(writer, format))
    {
        return Err(tr!(
            "Could not save %{path}: %{error}. Pick another folder or name.",
            path = path.display(),
            error = error
        ));
    }
    Ok((path, note))
}

/// Formats whose encoders in the `image` crate take RGBA; the others get RGB.
fn format_keeps_alpha(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::Png
            | ImageFormat::WebP
            | ImageFormat::Tiff
            | ImageFormat::Bmp
            | ImageFormat::Ico
            | ImageFormat::Tga
            | ImageFormat::Qoi
    )
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> RgbaImage {
        RgbaImage::from_fn(9, 5, |x, y| {
            image::Rgba([x as u8 * 20, y as u8 * 40, 7, if x == 0 { 0 } else { 255 }])
        })
    }

    #[test]
    fn a_translucent_image_is_saved_exactly_as_png_and_opaque_as_jpeg_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let original = Original::Straight(Arc::new(card()));
        let (png, note) = save(&original, &dir.path().join("card")).unwrap();
        assert_eq!(png.extension().unwrap(), "png");
        assert!(note.is_none());
        assert_eq!(image::open(&png).unwrap().to_rgba8(), card());

        let (jpeg, note) = save(&original, &dir.path().join("card.jpg")).unwrap();
        assert!(note.unwrap().contains("JPEG has no transparency"));
        assert_eq!(image::open(&jpeg).unwrap().width(), 9);
        // Nothing half-written is left beside them.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_name_with_no_known_format_is_refused_in_a_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let original = Original::Straight(Arc::new(card()));
        let error = save(&original, &dir.path().join("card.txt")).unwrap_err();
        assert!(error.contains("Pick a name ending in .png"), "{error}");
        let error = save(&original, &dir.path().join("no-such-dir/card.png")).unwrap_err();
        assert!(error.starts_with("Could not save"), "{error}");
    }

    /// "card" typed in the dialog, which asked nothing since "card" did not exist: the existing
    /// "card.png" was silently replaced.
    #[test]
    fn a_name_typed_without_an_extension_never_replaces_its_png_unasked() {
        let dir = tempfile::tempdir().unwrap();
        let original = Original::Straight(Arc::new(card()));
        let existing = dir.path().join("card.png");
        std::fs::write(&existing, b"keep me").unwrap();
        let error = save(&original, &dir.path().join("card")).unwrap_err();
        assert!(error.contains("card.png already exists"), "{error}");
        assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
        // Chosen by its full name (the dialog asked), it is replaced.
        save(&original, &existing).unwrap();
        assert_eq!(image::open(&existing).unwrap().to_rgba8(), card());
    }

    /// A link planted at a guessable temporary name (`.<name>.<pid>.part`) or at the
    /// destination itself is never written through.
    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"precious").unwrap();
        let name = "card.png";
        let planted = dir
            .path()
            .join(format!(".{name}.{}.part", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let destination = dir.path().join(name);
        std::os::unix::fs::symlink(&victim, &destination).unwrap();
        let original = Original::Straight(Arc::new(card()));
        save(&original, &destination).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(
            !std::fs::symlink_metadata(&destination)
                .unwrap()
                .is_symlink()
        );
        assert_eq!(image::open(&destination).unwrap().to_rgba8(), card());
    }

    #[test]
    fn the_suggested_name_is_the_key_made_safe_for_a_file_name() {
        assert_eq!(suggested_file_name("共享内存示例"), "共享内存示例.png");
        assert_eq!(suggested_file_name("a/b:c"), "a_b_c.png");
        assert_eq!(suggested_file_name(".."), "image.png");
    }
}
