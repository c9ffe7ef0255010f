//! What Qt's two modes have in common: Qt's example's `loadFromFile` and `loadFromMemory` to the
//! letter, over whichever of Qt's segments the mode uses. The segment holds
//! `QDataStream << QImage` (Qt's marker and a PNG), with no header of ours.

use std::time::Instant;

use image::RgbaImage;

use super::{Fetched, Options, Publication, ShareError, Stages, attach_and_lock};
use crate::codec::{self, Encoding, Header, header};
use crate::shm::Segment;

/// Qt's `loadFromFile`: `QDataStream << QImage` into a segment of exactly that size, created and
/// filled under one hold of the lock.
pub(super) fn publish(
    mut segment: Box<dyn Segment>,
    image: &RgbaImage,
) -> Result<Publication, ShareError> {
    let started = Instant::now();
    let mut stages = Stages::default();
    header::check_dimensions(image.width(), image.height())?;
    let payload = codec::qt::encode(image)?;
    stages.encode = started.elapsed();
    let step = Instant::now();
    let mut access = segment.create_replacing_locked(payload.len())?;
    stages.create = step.elapsed();
    let step = Instant::now();
    access.write(0, &payload)?;
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
    drop(access);
    stages.copy = step.elapsed();
    stages.total = started.elapsed();
    let note = segment.cleanup_note().map(str::to_owned);
    Ok(Publication {
        segment,
        header,
        segment_size,
        stages,
        note,
    })
}

/// Qt's `loadFromMemory`: attach, lock, copy the whole segment out, unlock, detach, then decode
/// the private copy (`QDataStream >> QImage`).
pub(super) fn fetch(
    mut segment: Box<dyn Segment>,
    options: &Options,
) -> Result<Fetched, ShareError> {
    let started = Instant::now();
    let mut stages = Stages::default();
    let access = attach_and_lock(segment.as_mut(), &mut stages)?;
    let step = Instant::now();
    let segment_size = access.size();
    let generation = access.generation();
    let mut bytes = vec![0u8; segment_size];
    access.read(0, &mut bytes)?;
    if let Some(pause) = options.pause_mid_copy {
        log::warn!("paused mid-copy");
        crate::shm::interrupt::sleep_unless_exiting(pause);
    }
    drop(access);
    stages.copy = step.elapsed();
    let publisher_pid = segment.creator_pid().unwrap_or(0);
    let note = segment.cleanup_note().map(str::to_owned);
    segment.detach();
    let step = Instant::now();
    let image = codec::qt::decode(&bytes)?;
    stages.decode = step.elapsed();
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
