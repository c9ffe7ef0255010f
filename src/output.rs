//! Files this program writes for a person (`get`'s image, Save as…, a saved check report):
//! written beside their destination under an unpredictable name and renamed over it, so that a
//! link planted in a folder others can write is never followed, and a failed write leaves the
//! destination as it was.

use std::path::Path;

/// An image encoder's output, as [`replace_file`] writes it: `encode` writes into a buffered
/// writer.
pub fn write_replacing(
    path: &Path,
    encode: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> image::ImageResult<()>,
) -> image::ImageResult<()> {
    replace_file(path, |file| {
        let mut writer = std::io::BufWriter::new(file);
        encode(&mut writer)?;
        std::io::Write::flush(&mut writer)?;
        Ok(())
    })
}

/// Writes a file at `path` with `write`. The bytes go into a new file beside `path`, made
/// exclusively under an unpredictable name (so nothing planted there, a link included, is ever
/// opened or followed), which then replaces `path` by a rename: a failed write leaves `path` as
/// it was and nothing beside it, and a link at `path` is replaced, never written through. The
/// file gets the usual mode (0666 less the umask), as a plain create would give it.
pub fn replace_file<E: From<std::io::Error>>(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), E>,
) -> Result<(), E> {
    let dir = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".shmimage-").suffix(".part");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut part = builder.tempfile_in(dir)?;
    write(part.as_file_mut())?;
    part.persist(path).map_err(|err| E::from(err.error))?;
    Ok(())
}
