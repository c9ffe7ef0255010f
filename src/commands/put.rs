//! `shmimage put`: the article's writer (load an image, share it until stopped), plus sharing
//! an animation, republishing when the file changes and sharing under a native key.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use crate::codec::{self, Encoding};
use crate::operations::publish::{
    ImageFile, Republished, open_image_file, publish_still, republish,
};
use crate::protocol::{self, Endpoint, ShareError};

/// When `put` stops sharing, besides Ctrl-C and SIGTERM.
pub(super) struct Stop {
    pub(super) after: Option<Duration>,
    pub(super) on_stdin_close: bool,
    /// Not a way to stop: `--watch`, which republishes until then.
    pub(super) watch: bool,
}

/// What `put` waits for once it shares the image.
enum PutEvent {
    Stop,
    /// The image file changed on disk (`--watch`).
    Changed,
}

pub(super) fn put(
    endpoint: &Endpoint,
    path: &Path,
    encoding: Encoding,
    native: Option<(&str, crate::codec::raw::PixelFormat)>,
    stop: Stop,
    out: &mut dyn Write,
) -> Result<(), ShareError> {
    // Installed first, so a signal that arrives while publishing still ends in a clean detach.
    let (events_tx, events) = mpsc::channel();
    if stop.on_stdin_close {
        let stop_tx = events_tx.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            let _ = stop_tx.send(PutEvent::Stop);
        });
    }
    let stop_tx = events_tx.clone();
    let handler = ctrlc::set_handler(move || {
        let _ = stop_tx.send(PutEvent::Stop);
    });
    if let Err(err) = handler {
        log::warn!(
            "cannot catch Ctrl-C/SIGTERM ({err}); the segment is still reclaimed after exit"
        );
    }
    // --hold-ms counts from when the image is readable.
    let deadline = || stop.after.map(|after| std::time::Instant::now() + after);
    if let Some((name, format)) = native {
        return put_native_key(name, format, path, &events, deadline, out);
    }
    let loaded = match open_image_file(path)? {
        ImageFile::Animation(animation) => {
            return put_animation(endpoint, animation, encoding, &events, deadline(), out);
        }
        ImageFile::Still(loaded) => loaded,
    };
    let published = publish_still(endpoint, loaded, encoding)?;
    let publication = published.publication;
    let header = &publication.header;
    // Also on stderr, where a script that only checks for errors looks.
    if let Some(note) = &published.note {
        eprintln!("note: {note}");
    }
    let note = published
        .note
        .map(|note| format!(" ({note})"))
        .unwrap_or_default();
    writeln!(
        out,
        "ready key={:?} generation={} {}x{} encoding={} bytes={} in {:.1} ms{note}",
        endpoint.key,
        header.generation,
        header.width,
        header.height,
        header.encoding,
        publication.segment_size,
        publication.stages.total.as_secs_f64() * 1000.0,
    )
    .ok();
    out.flush().ok();
    // Watched from after the first publish: a change before it is in that image already.
    let _watch = stop.watch.then(|| watch(path, events_tx)).flatten();
    let publication = share_until_stopped(
        endpoint,
        publication,
        path,
        encoding,
        &events,
        deadline(),
        out,
    )?;
    publication.withdraw();
    writeln!(out, "stopped sharing key {:?}", endpoint.key).ok();
    Ok(())
}

/// `put --native-key`: headerless pixels in an object of exactly that name, until stopped.
fn put_native_key(
    name: &str,
    format: crate::codec::raw::PixelFormat,
    path: &Path,
    events: &mpsc::Receiver<PutEvent>,
    deadline: impl Fn() -> Option<std::time::Instant>,
    out: &mut dyn Write,
) -> Result<(), ShareError> {
    let loaded = codec::decode_file(path)?;
    let (bytes, shape) = crate::codec::raw::from_rgba(&loaded.image, format);
    let object = protocol::publish_raw(name, &bytes)?;
    writeln!(
        out,
        "ready native-key={name:?} {} bytes={}: read it with --native-key {name} --raw {shape}",
        object.location, object.size
    )
    .ok();
    out.flush().ok();
    let deadline = deadline();
    while let Some(PutEvent::Changed) = next_event(events, deadline) {}
    drop(object);
    writeln!(out, "removed {name:?}").ok();
    Ok(())
}

/// `--watch`: tells `put` of each change of the file, if it can be watched.
fn watch(
    path: &Path,
    changes: mpsc::Sender<PutEvent>,
) -> Option<crate::operations::watch::FileWatch> {
    let watch = crate::operations::watch::watch_file(path, move || {
        let _ = changes.send(PutEvent::Changed);
    });
    watch
        .map_err(|sentence| eprintln!("note: {sentence}; sharing the image without watching it"))
        .ok()
}

/// Shares until stopped, publishing the file again at each change (with `--watch`); returns
/// the publication shared last.
fn share_until_stopped(
    endpoint: &Endpoint,
    mut publication: protocol::Publication,
    path: &Path,
    encoding: Encoding,
    events: &mpsc::Receiver<PutEvent>,
    deadline: Option<std::time::Instant>,
    out: &mut dyn Write,
) -> Result<protocol::Publication, ShareError> {
    let mut waiting_for_a_whole_file = false;
    while let Some(PutEvent::Changed) = next_event(events, deadline) {
        let newer = match republish(endpoint, path, encoding)? {
            Republished::Published(newer) => newer.publication,
            Republished::NotWholeYet(err) => {
                // Said once, however many changes it takes the file to become whole.
                if !waiting_for_a_whole_file {
                    eprintln!(
                        "note: {} does not decode ({err}); still sharing the last good image until it does",
                        path.display()
                    );
                }
                waiting_for_a_whole_file = true;
                continue;
            }
        };
        waiting_for_a_whole_file = false;
        let header = &newer.header;
        writeln!(
            out,
            "republished key={:?} generation={} {}x{} (the file changed)",
            endpoint.key, header.generation, header.width, header.height
        )
        .ok();
        out.flush().ok();
        std::mem::replace(&mut publication, newer).withdraw();
    }
    Ok(publication)
}

/// The next thing `put` is told, or `None` once `until` has passed (or nothing can tell it
/// anything any more).
fn next_event(
    events: &mpsc::Receiver<PutEvent>,
    until: Option<std::time::Instant>,
) -> Option<PutEvent> {
    match until {
        Some(until) => events
            .recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
            .ok(),
        None => events.recv().ok(),
    }
}

/// `put` of an animated GIF, APNG or WebP: every frame at its delay, looping until stopped,
/// with a line per frame ("ready" after the first).
fn put_animation(
    endpoint: &Endpoint,
    mut animation: codec::animation::Animation,
    encoding: Encoding,
    stop_rx: &mpsc::Receiver<PutEvent>,
    deadline: Option<std::time::Instant>,
    out: &mut dyn Write,
) -> Result<(), ShareError> {
    let mut shown: Option<protocol::Publication> = None;
    let key = &endpoint.key;
    let on_frame = |frame: codec::animation::AnimationFrame, publication: protocol::Publication| {
        let header = &publication.header;
        if shown.is_none() {
            eprintln!(
                "note: an animation: each frame is shared at its delay, looping until stopped"
            );
            writeln!(
                out,
                "ready key={key:?} generation={} {}x{} encoding={} (animation)",
                header.generation, header.width, header.height, header.encoding
            )
            .ok();
        }
        writeln!(
            out,
            "{} generation={} delay_ms={}",
            crate::operations::play::frame_words(&frame),
            header.generation,
            frame.delay.as_millis()
        )
        .ok();
        out.flush().ok();
        if let Some(old) = shown.replace(publication) {
            old.withdraw();
        }
    };
    // Until the frame is due, Ctrl-C, SIGTERM, stdin closing or --hold-ms; a file change
    // (--watch) does not apply to animations.
    let wait_until = |due: std::time::Instant| loop {
        let until = deadline.map_or(due, |deadline| deadline.min(due));
        match next_event(stop_rx, Some(until)) {
            Some(PutEvent::Changed) => {}
            Some(PutEvent::Stop) => return true,
            None => return deadline.is_some_and(|d| std::time::Instant::now() >= d),
        }
    };
    let played =
        crate::operations::play::play(endpoint, &mut animation, encoding, on_frame, wait_until);
    if let Some(last) = shown {
        last.withdraw();
    }
    played?;
    writeln!(out, "stopped sharing key {key:?}").ok();
    Ok(())
}
