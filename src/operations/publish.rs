//! Sharing an image file, for the command line and the window alike: Qt's `loadFromFile`, the
//! rule for republishing a file that changed, and `get`'s fetch into a file.

use std::path::Path;

use image::RgbaImage;

use crate::codec::animation::Animation;
use crate::codec::{self, CodecError, Encoding, LoadedImage};
use crate::protocol::{self, Endpoint, Fetched, Publication, ShareError};

/// What an image file holds.
pub enum ImageFile {
    Still(LoadedImage),
    /// An animated GIF, APNG or WebP, to be played (see [`super::play`]).
    Animation(Animation),
}

/// Opens an image file: an animation to play, or a still image, decoded.
pub fn open_image_file(path: &Path) -> Result<ImageFile, CodecError> {
    if let Some(animation) = Animation::open(path)? {
        return Ok(ImageFile::Animation(animation));
    }
    codec::decode_file(path).map(ImageFile::Still)
}

/// A still image, shared.
pub struct PublishedFile {
    pub image: RgbaImage,
    pub publication: Publication,
    /// What the file needed (the first frame of a GIF, say) and what publishing cleaned up.
    pub note: Option<String>,
}

/// Qt's `loadFromFile`, once the file is decoded.
pub fn publish_still(
    endpoint: &Endpoint,
    loaded: LoadedImage,
    encoding: Encoding,
) -> Result<PublishedFile, ShareError> {
    let publication = protocol::publish(endpoint, &loaded.image, encoding)?;
    let note = match (loaded.note, publication.note.clone()) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    Ok(PublishedFile {
        image: loaded.image,
        publication,
        note,
    })
}

/// What republishing a changed file came to.
pub enum Republished {
    Published(Box<PublishedFile>),
    /// The file does not decode: most likely it is still being written. The last good image
    /// stays shared, and the file is tried again at its next change.
    NotWholeYet(CodecError),
}

/// Republish on change (`put --watch`, and the window's tick box): `path` is published again,
/// unless it does not decode yet.
pub fn republish(
    endpoint: &Endpoint,
    path: &Path,
    encoding: Encoding,
) -> Result<Republished, ShareError> {
    match codec::decode_file(path) {
        Ok(loaded) => publish_still(endpoint, loaded, encoding)
            .map(|published| Republished::Published(Box::new(published))),
        Err(error) => Ok(Republished::NotWholeYet(error)),
    }
}

/// Qt's `loadFromMemory`, saved to `path` in the format its extension names.
pub fn fetch_to_file(endpoint: &Endpoint, path: &Path) -> Result<Fetched, ShareError> {
    let fetched = protocol::fetch(endpoint)?;
    codec::save_image(&fetched.image, path)?;
    Ok(fetched)
}
