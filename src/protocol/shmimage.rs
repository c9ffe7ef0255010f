//! This project's own protocol: crash-safe segment files (`crate::ipc::segment`) holding a checked
//! 64-byte header and the image, raw RGBA8 or PNG.

use std::time::{Duration, Instant};

use image::RgbaImage;

use super::{
    AttachedReader, ChangeWatch, Endpoint, Fetched, FetchedInto, Inspection, Landing, Options,
    Protocol, Publication, Recorder, ShareError, Stages, Step, attach_and_lock, create_locked,
    detach, human_bytes, note_cleanup,
};
use crate::codec::{self, CodecError, Encoding, HEADER_LEN, Header, header};
use crate::ipc::segment::{Segment, SegmentDir, SegmentFile, SharedMemory, ShmError};

/// Bytes copied between checksum updates: small enough to stay in cache while the CRC reads them.
const CHUNK: usize = 256 * 1024;

pub(super) struct ShmimageProtocol {
    key: String,
    dir: SegmentDir,
    options: Options,
    recorder: Recorder,
}

/// Where a fetch's payload went.
enum Payload {
    /// Into the buffer the landing offered.
    Landed,
    /// Into a private copy, still to be decoded.
    Private(Vec<u8>),
}

/// A landing that never offers a buffer: the payload is always decoded.
struct Decode;

impl Landing for Decode {
    fn buffer_for(&mut self, _header: &Header) -> Option<&mut [u8]> {
        None
    }
}

impl ShmimageProtocol {
    pub(super) fn new(endpoint: &Endpoint) -> Self {
        Self {
            key: endpoint.key.clone(),
            dir: endpoint.dir.clone(),
            options: endpoint.options.clone(),
            recorder: Recorder::new(endpoint),
        }
    }

    fn shared_memory(&self) -> Result<SharedMemory, ShmError> {
        let mut shm = SharedMemory::in_dir(&self.key, self.dir.clone())?;
        shm.set_lock_timeout(self.options.lock_timeout);
        shm.set_pause_after_create(self.options.pause_after_create);
        shm.set_keep_leftovers(self.options.keep_leftovers);
        Ok(shm)
    }

    /// The copying half of a fetch: the header is checked, then the payload is copied once,
    /// into the landing's buffer for a raw image if it offers one, else into a private copy,
    /// and its checksum verified.
    fn copy_out(
        &self,
        landing: &mut dyn Landing,
    ) -> Result<(Payload, Header, usize, Stages), ShareError> {
        let started = Instant::now();
        let mut stages = Stages::default();
        let recorder = &self.recorder;
        let mut shm = self.shared_memory()?;
        let lock = shm.describe_lock();
        let access = attach_and_lock(recorder, &mut shm, &mut stages)?;

        let copying = recorder.begin(Step::CopyOut, super::copy_object(&access))?;
        let step = Instant::now();
        let segment_size = access.size();
        if segment_size < HEADER_LEN {
            return Err(CodecError::TooShort {
                len: segment_size as u64,
            }
            .into());
        }
        let mut header_bytes = [0u8; HEADER_LEN];
        access.read(0, &mut header_bytes)?;
        let header = Header::parse(&header_bytes, segment_size as u64)?;
        let offered = match header.encoding {
            Encoding::Raw => landing.buffer_for(&header),
            Encoding::Png => None,
        };
        let mut private = Vec::new();
        let landed = offered.is_some();
        let bytes = match offered {
            Some(buffer) => buffer,
            None => {
                // Header::parse bounded payload_len by the segment size and the image limits,
                // so this allocation is bounded too.
                private = vec![0u8; header.payload_len as usize];
                &mut private[..]
            }
        };
        if bytes.len() as u64 != header.payload_len {
            return Err(CodecError::PayloadTooLong {
                claimed: header.payload_len,
                available: bytes.len() as u64,
            }
            .into());
        }
        let mut crc = crc32fast::Hasher::new();
        let mut checksum_time = Duration::ZERO;
        let copied = bytes
            .chunks_mut(CHUNK)
            .enumerate()
            .try_for_each(|(index, chunk)| {
                access.read(HEADER_LEN + index * CHUNK, chunk)?;
                let crc_step = Instant::now();
                crc.update(chunk);
                checksum_time += crc_step.elapsed();
                Ok::<(), ShmError>(())
            });
        copying.done(copied)?;
        stages.copy = step.elapsed() - checksum_time;
        stages.checksum = checksum_time;
        let unlocking = recorder.begin(Step::Unlock, lock)?;
        drop(access);
        unlocking.done(Ok::<(), ShareError>(()))?;
        detach(recorder, &mut shm);

        let actual = crc.finalize();
        if actual != header.payload_crc {
            return Err(CodecError::ChecksumMismatch {
                expected: header.payload_crc,
                actual,
            }
            .into());
        }
        stages.total = started.elapsed();
        let payload = if landed {
            Payload::Landed
        } else {
            Payload::Private(private)
        };
        Ok((payload, header, segment_size, stages))
    }

    fn decode(
        payload: Payload,
        header: &Header,
        stages: &mut Stages,
    ) -> Result<Option<RgbaImage>, ShareError> {
        let Payload::Private(bytes) = payload else {
            return Ok(None);
        };
        let step = Instant::now();
        let image = codec::decode_payload(header, bytes)?;
        stages.decode = step.elapsed();
        Ok(Some(image))
    }
}

impl Protocol for ShmimageProtocol {
    fn publish(&self, image: &RgbaImage, encoding: Encoding) -> Result<Publication, ShareError> {
        let started = Instant::now();
        let mut stages = Stages::default();
        header::check_dimensions(image.width(), image.height())?;
        let encoded;
        let payload: &[u8] = match encoding {
            Encoding::Raw => image.as_raw(),
            Encoding::Png => {
                encoded = codec::encode_png(image)?;
                &encoded
            }
        };
        stages.encode = started.elapsed();

        let recorder = &self.recorder;
        let mut shm = self.shared_memory()?;
        let lock = shm.describe_lock();
        // Created and filled under one hold of the lock: no reader can see the segment half-made.
        let mut access =
            create_locked(recorder, &mut shm, HEADER_LEN + payload.len(), &mut stages)?;
        let generation = access.generation();

        let copying = recorder.begin(Step::CopyIn, super::copy_object(&access))?;
        let step = Instant::now();
        let pause = self.options.pause_mid_copy;
        // With the test hook, copy in two halves so there is a "middle" to stop at.
        let chunk_len = if pause.is_some() {
            payload.len().div_ceil(2).max(1)
        } else {
            CHUNK
        };
        let mut crc = crc32fast::Hasher::new();
        let copied = payload
            .chunks(chunk_len)
            .enumerate()
            .try_for_each(|(index, chunk)| {
                if let Some(pause) = pause.filter(|_| index == 1) {
                    log::warn!("paused mid-copy");
                    std::thread::sleep(pause);
                }
                access.write(HEADER_LEN + index * chunk_len, chunk)?;
                crc.update(chunk);
                Ok::<(), ShmError>(())
            });
        copying.done(copied)?;
        let header = Header {
            encoding,
            width: image.width(),
            height: image.height(),
            publisher_pid: std::process::id(),
            payload_len: payload.len() as u64,
            generation,
            payload_crc: crc.finalize(),
        };
        access.write(0, &header.to_bytes())?;
        // The commit word goes last: a reader that sees it knows every byte before it is in place.
        access.write(header::COMMIT_OFFSET, &header::COMMIT_WORD)?;
        if self.options.damage_after_publish
            && let Some(last) = payload.last()
        {
            access.write(HEADER_LEN + payload.len() - 1, &[!last])?;
        }
        let segment_size = access.size();
        stages.copy = step.elapsed();
        let unlocking = recorder.begin(Step::Unlock, lock)?;
        drop(access);
        unlocking.done(Ok::<(), ShareError>(()))?;
        note_cleanup(recorder, &shm);
        stages.total = started.elapsed();
        Ok(Publication {
            segment: Box::new(shm),
            recorder: recorder.clone(),
            header,
            segment_size,
            stages,
            note: None,
        })
    }

    fn fetch(&self) -> Result<Fetched, ShareError> {
        let started = Instant::now();
        let (payload, header, segment_size, mut stages) = self.copy_out(&mut Decode)?;
        // `Decode` offers no buffer, so the payload is always the private copy.
        let image = Self::decode(payload, &header, &mut stages)?.unwrap_or_default();
        stages.total = started.elapsed();
        Ok(Fetched {
            image,
            header,
            segment_size,
            stages,
            note: None,
        })
    }

    fn fetch_into(&self, landing: &mut dyn Landing) -> Result<FetchedInto, ShareError> {
        let (payload, header, segment_size, mut stages) = self.copy_out(landing)?;
        let decoded = Self::decode(payload, &header, &mut stages)?;
        Ok(FetchedInto {
            decoded,
            header,
            segment_size,
            stages,
            note: None,
        })
    }

    fn inspect(&self) -> Result<Inspection, ShareError> {
        let mut shm = self.shared_memory()?;
        let files = shm.segment_files()?;
        let mut inspection = Inspection::new(&self.key);
        inspection.row("native key", shm.native_key());
        inspection.row("directory", shm.dir().display().to_string());
        inspection.row("lock", shm.lock_path().display().to_string());
        if files.is_empty() {
            inspection.row("segments", "none (nothing is shared under this key)");
        }
        for file in &files {
            inspection.row("segment", file.path.display().to_string());
            inspection.detail(
                "state",
                if file.live {
                    "live"
                } else {
                    "leftover of a dead process (run `shmimage clean`)"
                },
            );
            inspection.detail("generation", file.generation.to_string());
            inspection.detail(
                "size",
                format!("{} ({} bytes)", human_bytes(file.size), file.size),
            );
            match read_header_of(file) {
                Ok(h) => {
                    inspection.detail("encoding", h.encoding.to_string());
                    inspection.detail("dimensions", format!("{}x{}", h.width, h.height));
                    inspection.detail("publisher", format!("pid {}", h.publisher_pid));
                }
                Err(err) => inspection.detail("contents", format!("unreadable: {err}")),
            }
        }
        Ok(inspection)
    }

    fn newest_generation(&self) -> Result<Option<u64>, ShareError> {
        let mut shm = self.shared_memory()?;
        Ok(shm
            .segment_files()?
            .iter()
            .filter(|f| f.live)
            .map(|f| f.generation)
            .max())
    }

    fn attach(&self) -> Result<AttachedReader, ShareError> {
        AttachedReader::new(Box::new(self.shared_memory()?))
    }

    /// Every publish creates a new `<native key>.g<generation>.seg` in the segment directory
    /// (the names of `shm::files`).
    fn change_watch(&self) -> Option<ChangeWatch> {
        let shm = self.shared_memory().ok()?;
        Some(ChangeWatch {
            dir: self.dir.path().to_path_buf(),
            file_prefix: format!("{}.g", shm.native_key()),
            file_suffix: ".seg".to_owned(),
        })
    }
}

/// Reads a segment file's header with plain file I/O, without attaching (so that inspecting a
/// leftover does not make it look live).
fn read_header_of(file: &SegmentFile) -> Result<Header, ShareError> {
    use std::io::Read;
    let mut bytes = [0u8; HEADER_LEN];
    // Never through a symlink, never blocking on a FIFO planted after the listing.
    let io_error = |action, source| ShmError::Io {
        action,
        path: file.path.clone(),
        source,
    };
    let mut handle = crate::safe_fs::open_file(&file.path, crate::safe_fs::OpenFor::Reading)
        .map_err(|err| io_error("opening", err))?;
    let read = handle
        .read(&mut bytes)
        .map_err(|err| io_error("reading", err))?;
    Ok(Header::parse(&bytes[..read], file.size)?)
}
