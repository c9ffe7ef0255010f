//! What a window shares and how it keeps it current: the publication, the file it came from
//! and its watch (Republish on change), the animation it plays, and Follow.

use std::path::PathBuf;

use super::{following, playing, republish};
use crate::protocol::Publication;

#[derive(Default)]
pub struct Sharing {
    pub(super) publication: Option<Publication>,
    /// The generation on screen, if it is the key's current one (Follow fetches anything newer).
    pub(super) shown_generation: Option<u64>,
    /// "Republish on change", the file this window shares, and its watch while ticked.
    pub republish_on_change: bool,
    pub(super) shared_path: Option<PathBuf>,
    pub(super) watched: Option<republish::Watched>,
    /// The animation this window plays, if it shares one.
    pub(super) playing: Option<playing::Playing>,
    /// Whether Follow is ticked, and its watcher while it is.
    pub follow: bool,
    pub(super) following: Option<following::Following>,
}
