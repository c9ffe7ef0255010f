//! Lesson 2's picture, rewritten in place: the one place shmimage writes over bytes a reader
//! may be copying, to show a class what the lock is for. Everywhere else a segment is written
//! once, before any reader can see it.
//!
//! The picture is a native object of raw RGBA pixels, as a video source writes one. The writer
//! rewrites it a slice at a time holding the key's lock (shmimage's lock file, as for every
//! key); a reader copies it once, after taking the lock or without it. Both record their steps
//! in the key's journal, so the lesson draws them as lanes.

use std::time::{Duration, Instant};

use image::RgbaImage;

use super::native_key::NativeKeyProtocol;
use super::step::Step;
use super::steps::Recorder;
use super::{Endpoint, Options, RawPublication, ShareError, native_key_for, publish_raw};
use crate::codec::raw::{PixelFormat, RawShape};
use crate::ipc::segment::{KeyLock, KeyLockGuard};

/// How many slices a rewrite takes: a torn copy shows them as bands.
const SLICES: usize = 8;

/// The picture as its writer holds it: the object, and the key's lock.
pub struct InPlacePicture {
    publication: RawPublication,
    lock: KeyLock,
    options: Options,
    steps: Recorder,
}

impl InPlacePicture {
    /// Shares `picture` under the endpoint's native key, its lock being the endpoint's key's.
    pub fn share(endpoint: &Endpoint, picture: &RgbaImage) -> Result<Self, ShareError> {
        let name = native_name(endpoint)?;
        Ok(Self {
            publication: publish_raw(name, picture.as_raw())?,
            lock: key_lock(endpoint)?,
            options: endpoint.options.clone(),
            steps: Recorder::new(endpoint),
        })
    }

    /// Rewrites the picture with `picture` (of the same size) slice by slice, holding the lock
    /// throughout. Halfway, the top half new and the rest old, it calls `halfway` and goes on
    /// when that returns: the lesson copies the picture meanwhile.
    pub fn rewrite(
        &mut self,
        picture: &RgbaImage,
        mut halfway: impl FnMut(),
    ) -> Result<(), ShareError> {
        let bytes = picture.as_raw();
        if bytes.len() != self.publication.size {
            return Err(ShareError::NativeKey(format!(
                "the new picture has {} bytes and the shared one {}: an in-place rewrite needs the same size",
                bytes.len(),
                self.publication.size
            )));
        }
        let held = self
            .steps
            .begin_unstepped(Step::Lock, lock_name(&self.options))
            .done(take_lock(&self.lock, &self.options))?;
        let slice = bytes.len().div_ceil(SLICES);
        let location = self.publication.location.clone();
        let copy_in = self.steps.begin_unstepped(
            Step::CopyIn,
            format!("{} bytes into {location}, a slice at a time", bytes.len()),
        );
        let mut written = Ok(());
        for (index, chunk) in bytes.chunks(slice).enumerate() {
            if index == SLICES / 2 {
                halfway();
            }
            written = self.publication.write_at(index * slice, chunk);
            if written.is_err() {
                break;
            }
        }
        copy_in.done(written)?;
        self.steps
            .around(Step::Unlock, lock_name(&self.options), || drop(held));
        Ok(())
    }

    /// Stops sharing: the object is removed, and the journal says the writer detached.
    pub fn withdraw(self) {
        let location = self.publication.location.clone();
        let publication = self.publication;
        self.steps
            .around(Step::Detach, location, || drop(publication));
    }
}

/// What the lock step says it takes: shmimage's lock, or nothing when a test broke it.
fn lock_name(options: &Options) -> &'static str {
    if options.faults.break_lock {
        "nothing: the lock is broken on purpose"
    } else {
        "the key's lock file"
    }
}

/// What a reader copied, and how long it waited for the lock first.
pub struct Copy {
    pub picture: RgbaImage,
    pub waited: Duration,
}

/// Copies the picture of `width`×`height` once, after taking the key's lock if `locked`: the
/// article's reader, with its lock() or without it.
pub fn copy(
    endpoint: &Endpoint,
    width: u32,
    height: u32,
    locked: bool,
) -> Result<Copy, ShareError> {
    let shape = RawShape {
        width,
        height,
        format: PixelFormat::Rgba8,
        stride: width as usize * 4,
    };
    let steps = Recorder::new(endpoint);
    let name = native_name(endpoint)?;
    let object = steps
        .begin_unstepped(Step::Attach, name)
        .done(NativeKeyProtocol::new(name, Some(shape))?.open())?;
    let lock = key_lock(endpoint)?;
    let started = Instant::now();
    let held = if locked {
        steps
            .begin_unstepped(Step::Lock, lock_name(&endpoint.options))
            .done(take_lock(&lock, &endpoint.options))?
    } else {
        None
    };
    let waited = started.elapsed();
    let bytes = steps
        .begin_unstepped(Step::CopyOut, format!("{} bytes", shape.bytes_needed()))
        .done(
            object
                .read_prefix(shape.bytes_needed())
                .map_err(|err| ShareError::NativeKey(format!("cannot read the picture: {err}"))),
        )?;
    // As its lock step was recorded: an unlock even where a test broke the lock.
    if locked {
        steps.around(Step::Unlock, lock_name(&endpoint.options), || drop(held));
    }
    steps.around(Step::Detach, name, || drop(object));
    Ok(Copy {
        picture: shape.to_rgba(&bytes, "the lesson's picture")?,
        waited,
    })
}

fn native_name(endpoint: &Endpoint) -> Result<&str, ShareError> {
    endpoint.native_key.as_deref().ok_or_else(|| {
        ShareError::NativeKey("the in-place picture needs a native key to live under".to_owned())
    })
}

fn key_lock(endpoint: &Endpoint) -> Result<KeyLock, ShareError> {
    Ok(KeyLock::open(
        endpoint.dir.path(),
        &native_key_for(&endpoint.key)?,
    )?)
}

/// The lock, unless a test broke it on purpose (see [`super::BREAK_LOCK_ENV`]).
fn take_lock<'a>(
    lock: &'a KeyLock,
    options: &Options,
) -> Result<Option<KeyLockGuard<'a>>, ShareError> {
    if options.faults.break_lock {
        return Ok(None);
    }
    Ok(Some(lock.acquire(options.lock_timeout)?))
}
