//! What Qt's two modes have in common: Qt's example's `loadFromFile` and `loadFromMemory` to the
//! letter, over whichever of Qt's segments the mode uses. The segment holds
//! `QDataStream << QImage` (Qt's marker and a PNG), with no header of ours.

use std::time::Instant;

use image::RgbaImage;

use super::{
    Fetched, Options, Publication, Recorder, ShareError, Stages, Step, attach_and_lock,
    copy_object, create_locked, detach, note_cleanup,
};
use crate::codec::{self, Encoding, Header, header};
use crate::ipc::segment::Segment;

/// A live Qt segment that starts as Qt writes an image is one a new publish may replace.
pub(super) const QT_IMAGE: crate::ipc::qt::Replaceable = crate::ipc::qt::Replaceable {
    start_len: codec::qt::IMAGE_START_LEN,
    starts_as_expected: codec::qt::starts_like_an_image,
};

/// Qt's `loadFromFile`: `QDataStream << QImage` into a segment of exactly that size, created and
/// filled under one hold of the lock.
pub(super) fn publish(
    recorder: &Recorder,
    mut segment: Box<dyn Segment>,
    image: &RgbaImage,
) -> Result<Publication, ShareError> {
    let started = Instant::now();
    let mut stages = Stages::default();
    header::check_dimensions(image.width(), image.height())?;
    let encoding = recorder.begin(Step::Encode, "QImage to PNG in QDataStream")?;
    let payload = encoding.timed(codec::qt::encode(image), &mut stages.encode)?;
    let lock = segment.describe_lock();
    let mut access = create_locked(recorder, segment.as_mut(), payload.len(), &mut stages)?;
    let copying = recorder.begin(Step::CopyIn, copy_object(&access))?;
    let step = Instant::now();
    copying.done(access.write(0, &payload))?;
    let header = Header {
        encoding: Encoding::Png,
        width: image.width(),
        height: image.height(),
        publisher_pid: std::process::id(),
        payload_len: payload.len() as u64,
        generation: access.generation(),
        payload_crc: crc32fast::hash(&payload),
    };
    let segment_size = access.size();
    stages.copy = step.elapsed();
    let unlocking = recorder.begin(Step::Unlock, lock)?;
    drop(access);
    unlocking.done(Ok::<(), ShareError>(()))?;
    stages.total = started.elapsed();
    note_cleanup(recorder, segment.as_ref());
    let note = segment.cleanup_note().map(str::to_owned);
    Ok(Publication {
        segment,
        recorder: recorder.clone(),
        header,
        segment_size,
        stages,
        note,
    })
}

/// Qt's `loadFromMemory`: attach, lock, copy the whole segment out, unlock, detach, then decode
/// the private copy (`QDataStream >> QImage`).
pub(super) fn fetch(
    recorder: &Recorder,
    mut segment: Box<dyn Segment>,
    options: &Options,
) -> Result<Fetched, ShareError> {
    let started = Instant::now();
    let mut stages = Stages::default();
    let lock = segment.describe_lock();
    let access = attach_and_lock(recorder, segment.as_mut(), &mut stages)?;
    let copying = recorder.begin(Step::CopyOut, copy_object(&access))?;
    let segment_size = access.size();
    let generation = access.generation();
    let mut bytes = vec![0u8; segment_size];
    let copied = access.read(0, &mut bytes);
    if let Some(pause) = options.pause_mid_copy {
        log::warn!("paused mid-copy");
        crate::ipc::segment::interrupt::sleep_unless_exiting(pause);
    }
    copying.timed(copied, &mut stages.copy)?;
    let unlocking = recorder.begin(Step::Unlock, lock)?;
    drop(access);
    unlocking.done(Ok::<(), ShareError>(()))?;
    let publisher_pid = segment.creator_pid().unwrap_or(0);
    let note = segment.cleanup_note().map(str::to_owned);
    detach(recorder, segment.as_mut());
    let decoding = recorder.begin(Step::Decode, "QDataStream >> QImage")?;
    let image = decoding.timed(codec::qt::decode(&bytes), &mut stages.decode)?;
    stages.total = started.elapsed();
    let header = Header {
        encoding: Encoding::Png,
        width: image.width(),
        height: image.height(),
        publisher_pid,
        payload_len: segment_size as u64,
        generation,
        payload_crc: crc32fast::hash(&bytes),
    };
    Ok(Fetched {
        image,
        header,
        segment_size,
        stages,
        note,
    })
}
