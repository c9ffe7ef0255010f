//! `shmimage get`: the article's reader, saving the image it fetches to a file.

use std::io::Write;
use std::path::Path;

use crate::protocol::{self, Endpoint, ShareError};

pub(super) fn get(endpoint: &Endpoint, path: &Path, out: &mut dyn Write) -> Result<(), ShareError> {
    // Ctrl-C or SIGTERM ends `get` at once, or, while it holds Qt 6's semaphore (which has no
    // undo), right after giving it back, so the key never stays locked for everyone.
    if let Err(err) = ctrlc::set_handler(|| protocol::exit_when_released(130)) {
        log::warn!("cannot catch Ctrl-C/SIGTERM ({err})");
    }
    let fetched = crate::operations::publish::fetch_to_file(endpoint, path)?;
    let header = &fetched.header;
    writeln!(
        out,
        "saved {}x{} image (encoding {}, generation {}, from {}) to {}",
        header.width,
        header.height,
        header.encoding,
        header.generation,
        protocol::publisher_name(header.publisher_pid),
        path.display()
    )
    .ok();
    if let Some(note) = &fetched.note {
        writeln!(out, "note: {note}").ok();
    }
    Ok(())
}
