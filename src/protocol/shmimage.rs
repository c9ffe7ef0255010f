//! This project's own protocol: crash-safe segment files (`crate::ipc::segment`) holding a checked
//! 64-byte header and the image, raw RGBA8 or PNG.

use std::time::{Duration, Instant};

use image::RgbaImage;

use super::steps::Steps;
use super::{
    AttachedReader, ChangeWatch, Endpoint, Faults, Fetched, FetchedInto, Inspection, Landing, Lent,
    NoParts, Options, PartLanded, Protocol, Publication, Recorder, ShareError, Stages,
    nothing_shared, size_in_bytes,
};
use crate::codec::{self, CodecError, Encoding, HEADER_LEN, Header, header};
use crate::ipc::segment::{SegmentAccess, SegmentDir, SegmentFile, SharedMemory, ShmError};
use crate::sentence::sentence;

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
    fn buffer_for(&mut self, _header: &Header) -> Option<Lent<'_>> {
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
        shm.set_pause_after_create(self.options.faults.pause_after_create);
        shm.set_keep_leftovers(self.options.faults.keep_leftovers);
        Ok(shm)
    }

    /// The reader's steps up to its private copy: attach, lock, copy out, unlock, detach. The
    /// payload lands in the landing's buffer for a raw image if it offers one, else in a
    /// private copy; its checksum is verified once the lock is given back.
    fn copy_out(
        &self,
        landing: &mut dyn Landing,
    ) -> Result<(Payload, Header, usize, Stages), ShareError> {
        let mut steps = Steps::new(&self.recorder);
        let mut shm = self.shared_memory()?;
        steps.attach(&mut shm)?;
        let access = steps.lock(&mut shm)?;
        let segment_size = access.size();
        let (payload, header, crc, checksum_time) =
            steps.copy_out(&access, |access| read_image(access, landing))?;
        steps.spent_checksumming(checksum_time);
        steps.unlock(access)?;
        steps.detach(&mut shm);

        if crc != header.payload_crc {
            return Err(CodecError::ChecksumMismatch {
                expected: header.payload_crc,
                actual: crc,
            }
            .into());
        }
        Ok((payload, header, segment_size, steps.stages()))
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
        let mut steps = Steps::new(&self.recorder);
        header::check_dimensions(image.width(), image.height())?;
        let encoded;
        let payload: &[u8] = match encoding {
            Encoding::Raw => image.as_raw(),
            Encoding::Png => {
                encoded = steps.encode_unrecorded(|| codec::encode_png(image))?;
                &encoded
            }
        };
        let mut shm = self.shared_memory()?;
        let mut access = steps.create(&mut shm, HEADER_LEN + payload.len())?;
        let header = steps.copy_in(&mut access, |access| {
            write_image(access, image, encoding, payload, &self.options.faults)
        })?;
        let segment_size = access.size();
        steps.unlock(access)?;
        steps.noticed_cleanup(&shm);
        Ok(Publication {
            segment: Box::new(shm),
            recorder: self.recorder.clone(),
            header,
            segment_size,
            stages: steps.stages(),
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
            may_be_torn: false,
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
            may_be_torn: false,
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
            inspection.row("segments", nothing_shared());
        }
        for file in &files {
            inspection.row("segment", file.path.display().to_string());
            inspection.detail(
                "state",
                if file.live {
                    sentence!("live")
                } else {
                    sentence!("leftover of a dead process (run `shmimage clean`)")
                },
            );
            inspection.detail("generation", file.generation.to_string());
            inspection.detail("size", size_in_bytes(file.size));
            match read_header_of(file) {
                Ok(h) => {
                    inspection.detail("encoding", h.encoding.to_string());
                    inspection.detail("dimensions", format!("{}x{}", h.width, h.height));
                    inspection.detail("publisher", format!("pid {}", h.publisher_pid));
                }
                Err(err) => inspection.detail(
                    "contents",
                    sentence!("unreadable: %{error}", error = err.to_string()),
                ),
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
            probe_too: false,
        })
    }
}

/// The writer's copy: the payload in chunks, each added to the checksum, then the header, and
/// the commit word last, so that a reader that sees it knows every byte before it is in place.
fn write_image(
    access: &mut SegmentAccess<'_>,
    image: &RgbaImage,
    encoding: Encoding,
    payload: &[u8],
    faults: &Faults,
) -> Result<Header, ShareError> {
    let chunk_len = faults.chunk_len(payload.len(), CHUNK);
    let mut crc = crc32fast::Hasher::new();
    for (index, chunk) in payload.chunks(chunk_len).enumerate() {
        faults.before_chunk(index);
        access.write(HEADER_LEN + index * chunk_len, chunk)?;
        crc.update(chunk);
    }
    let header = Header {
        encoding,
        width: image.width(),
        height: image.height(),
        publisher_pid: std::process::id(),
        payload_len: payload.len() as u64,
        generation: access.generation(),
        payload_crc: crc.finalize(),
    };
    access.write(0, &header.to_bytes())?;
    access.write(header::COMMIT_OFFSET, &header::COMMIT_WORD)?;
    if let Some(&last) = payload.last() {
        faults.after_commit(access, HEADER_LEN + payload.len() - 1, last);
    }
    Ok(header)
}

/// The reader's copy: the header is checked, then the payload is copied once (into the
/// landing's buffer or a private one) in chunks small enough to stay in cache while the
/// checksum reads them. Returns the checksum and the time spent computing it.
fn read_image(
    access: &SegmentAccess<'_>,
    landing: &mut dyn Landing,
) -> Result<(Payload, Header, u32, Duration), ShareError> {
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
    let mut no_parts = NoParts;
    let landed = offered.is_some();
    let (bytes, parts) = match offered {
        Some(lent) => (lent.bytes, lent.parts),
        None => {
            // Header::parse bounded payload_len by the segment size and the image limits, so
            // this allocation is bounded too.
            private = vec![0u8; header.payload_len as usize];
            (&mut private[..], &mut no_parts as &mut dyn PartLanded)
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
    for (index, chunk) in bytes.chunks_mut(CHUNK).enumerate() {
        access.read(HEADER_LEN + index * CHUNK, chunk)?;
        let started = Instant::now();
        crc.update(chunk);
        checksum_time += started.elapsed();
        parts.landed(chunk);
    }
    let payload = if landed {
        Payload::Landed
    } else {
        Payload::Private(private)
    };
    Ok((payload, header, crc.finalize(), checksum_time))
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
