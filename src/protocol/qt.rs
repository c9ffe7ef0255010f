//! What Qt's two modes have in common: Qt's example's `loadFromFile` and `loadFromMemory` to the
//! letter, over whichever of Qt's segments the mode uses. The segment holds
//! `QDataStream << QImage` (Qt's marker and a PNG), with no header of ours.

use image::RgbaImage;

use super::steps::Steps;
use super::{Faults, Fetched, Publication, Recorder, ShareError};
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
    let mut steps = Steps::new(recorder);
    header::check_dimensions(image.width(), image.height())?;
    let payload = steps.encode("QImage to PNG in QDataStream", || codec::qt::encode(image))?;
    let mut access = steps.create(segment.as_mut(), payload.len())?;
    steps.copy_in(&mut access, |access| access.write(0, &payload))?;
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
    steps.unlock(access)?;
    steps.noticed_cleanup(segment.as_ref());
    let note = segment.cleanup_note().map(str::to_owned);
    Ok(Publication {
        segment,
        recorder: recorder.clone(),
        header,
        segment_size,
        stages: steps.stages(),
        note,
    })
}

/// Qt's `loadFromMemory`: attach, lock, copy the whole segment out, unlock, detach, then decode
/// the private copy (`QDataStream >> QImage`).
pub(super) fn fetch(
    recorder: &Recorder,
    mut segment: Box<dyn Segment>,
    faults: &Faults,
) -> Result<Fetched, ShareError> {
    let mut steps = Steps::new(recorder);
    steps.attach(segment.as_mut())?;
    let access = steps.lock(segment.as_mut())?;
    let segment_size = access.size();
    let generation = access.generation();
    let bytes = steps.copy_out(&access, |access| {
        let mut bytes = vec![0u8; segment_size];
        let copied = access.read(0, &mut bytes);
        faults.after_copy();
        copied.map(|()| bytes)
    })?;
    steps.unlock(access)?;
    let publisher_pid = segment.creator_pid().unwrap_or(0);
    let note = segment.cleanup_note().map(str::to_owned);
    steps.detach(segment.as_mut());
    let image = steps.decode("QDataStream >> QImage", || codec::qt::decode(&bytes))?;
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
        stages: steps.stages(),
        note,
        may_be_torn: false,
    })
}
