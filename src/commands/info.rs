//! `shmimage info` and `shmimage clean`: what is there under a key, and removing what dead
//! processes left.

use std::io::Write;

use super::segment_dir;
use crate::protocol::{self, Endpoint, ShareError};

pub(super) fn info(endpoint: &Endpoint, out: &mut dyn Write) -> Result<(), ShareError> {
    write!(out, "{}", protocol::inspect(endpoint)?.to_text()).ok();
    Ok(())
}

pub(super) fn clean(out: &mut dyn Write) -> Result<(), ShareError> {
    let dir = segment_dir()?;
    let cleaned = protocol::clean(&dir)?;
    if cleaned.segments.is_empty() && cleaned.journals == 0 {
        writeln!(out, "nothing to clean in {}", dir.path().display()).ok();
    }
    if cleaned.journals > 0 {
        writeln!(
            out,
            "forgot the protocol journals of {} dead process(es): `shmimage trace --since` no longer shows their steps",
            cleaned.journals
        )
        .ok();
    }
    for item in cleaned.segments {
        writeln!(
            out,
            "removed {} ({} bytes, left by a dead process)",
            item.path.display(),
            item.size
        )
        .ok();
    }
    Ok(())
}
