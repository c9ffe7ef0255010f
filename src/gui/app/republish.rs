//! "Republish on change": while it is ticked and this window shares an image it loaded from a
//! file, the file is watched, and each change is published again (the rule is
//! `operations::publish::republish`), so an edit in an image editor shows in the other window.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::ShmImageApp;
use crate::codec::CodecError;
use crate::gui::language::tr;
use crate::gui::status::Status;
use crate::operations::watch::FileWatch;

/// The file being watched, and whether it has changed since it was last published.
pub(super) struct Watched {
    path: PathBuf,
    _watch: FileWatch,
    changed: Arc<AtomicBool>,
}

impl ShmImageApp {
    /// Called every frame: watches the file this window shares while the tick box is on, and
    /// publishes it again once it has changed and nothing else is running.
    pub(super) fn keep_republishing(&mut self) {
        let wanted = self
            .sharing
            .republish_on_change
            .then(|| self.sharing.shared_path.clone())
            .flatten()
            .filter(|_| self.is_sharing());
        let Some(path) = wanted else {
            self.sharing.watched = None;
            return;
        };
        if self.sharing.watched.as_ref().is_none_or(|w| w.path != path) {
            self.sharing.watched = self.watch(path);
        }
        let Some(watched) = &self.sharing.watched else {
            return;
        };
        if self.busy.is_none() && watched.changed.swap(false, Ordering::AcqRel) {
            let path = watched.path.clone();
            self.republish(path);
        }
    }

    fn watch(&mut self, path: PathBuf) -> Option<Watched> {
        let changed = Arc::new(AtomicBool::new(false));
        let (flag, repaint) = (Arc::clone(&changed), self.ctx.clone());
        match crate::operations::watch::watch_file(&path, move || {
            flag.store(true, Ordering::Release);
            repaint.request_repaint();
        }) {
            Ok(watch) => Some(Watched {
                path,
                _watch: watch,
                changed,
            }),
            Err(sentence) => {
                self.sharing.republish_on_change = false;
                self.status = Status::Failed(tr!(
                    "Cannot republish on change: %{reason}.",
                    reason = sentence
                ));
                None
            }
        }
    }

    /// A republish whose file did not decode: the last good image stays shared.
    pub(super) fn republish_failed(&mut self, error: &CodecError) {
        self.busy = None;
        let name = self
            .sharing
            .shared_path
            .as_deref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        log::info!("republish: {error}");
        self.status = Status::Done(tr!(
            "%{file} changed but does not decode yet; the last good image stays shared until it does.",
            file = name
        ));
    }
}
