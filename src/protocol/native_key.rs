//! Qt's `setNativeKey`: a shared-memory object named exactly, made by a program that knows
//! nothing of shmimage or Qt (Python's `multiprocessing.shared_memory`, Boost.Interprocess, an
//! OpenCV pipeline).
//!
//! As with Qt, no lock means anything there, so a read can tear while the writer writes: the
//! object is copied once and checked by samples taken before and after the copy (see
//! `copy_settled`), and one that keeps changing is shown as such.

use std::time::{Duration, Instant};

use image::RgbaImage;

use super::{
    AttachedReader, Fetched, FetchedInto, Inspection, Landing, Protocol, Publication, ShareError,
    Stages, human_bytes,
};
use crate::codec::raw::RawShape;
use crate::codec::{self, CodecError, Encoding, Header, MAX_SEGMENT_BYTES};
use crate::ipc::sys::named_object::{self, CreatedObject, NamedObject};
use crate::platform::{self, Os};
use crate::sentence::{Sentence, sentence};

/// Headerless pixels written under a native key (`put --native-key`): the object lives until
/// this is dropped, which removes it, if it is still the one written here.
pub struct RawPublication {
    /// Where the object is, in the OS's terms.
    pub location: String,
    pub size: usize,
    object: CreatedObject,
}

impl RawPublication {
    /// Writes `bytes` over the object from `at` on, in place, as a video source writes each
    /// frame: a reader copying meanwhile may get part of the old frame and part of the new.
    pub fn write_at(&mut self, at: usize, bytes: &[u8]) -> Result<(), ShareError> {
        self.object.write_at(at as u64, bytes).map_err(|err| {
            ShareError::NativeKey(format!("cannot write into {}: {err}", self.location))
        })
    }
}

/// Creates the object `name` holding `bytes` (no header: what another framework expects). An
/// object of that name is never replaced: it may be another program's.
pub fn publish_raw(name: &str, bytes: &[u8]) -> Result<RawPublication, ShareError> {
    let name = validate_native_key(name).map_err(ShareError::NativeKey)?;
    let location = named_object::location(&name);
    let object = CreatedObject::create_new(&name, bytes).map_err(|err| {
        ShareError::NativeKey(match err.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "an object named {name:?} already exists ({location}), another program's or one left by a process that was killed: shmimage does not replace it; remove it if it is yours, or choose another name"
            ),
            _ => platform::native_key_denied(Os::current(), &name, true, err.raw_os_error())
                .unwrap_or_else(|| format!("cannot create {location}: {err}")),
        })
    })?;
    Ok(RawPublication {
        location,
        size: bytes.len(),
        object,
    })
}

/// The generation a follower of a native key sees `bytes` as (Follow's sampled checksum): what
/// a publisher that rewrites the object in place reports for each frame.
pub fn native_generation(bytes: &[u8]) -> u64 {
    generation_of(bytes)
}

/// Reads that may differ before a fetch gives up comparing and says the object keeps changing.
const READS: usize = 3;

/// `name` as this OS's call takes it (`shm_open`, `CreateFileMappingW`), or the sentence that
/// says why not: [`crate::platform::native_key_name`] has each OS's rules.
pub fn validate_native_key(name: &str) -> Result<String, String> {
    crate::platform::native_key_name(name, crate::platform::Os::current())
}

pub(super) struct NativeKeyProtocol {
    name: String,
    raw: Option<RawShape>,
}

impl NativeKeyProtocol {
    pub(super) fn new(name: &str, raw: Option<RawShape>) -> Result<Self, ShareError> {
        let name = validate_native_key(name).map_err(ShareError::NativeKey)?;
        Ok(Self { name, raw })
    }

    fn location(&self) -> String {
        named_object::location(&self.name)
    }

    pub(super) fn open(&self) -> Result<NamedObject, ShareError> {
        NamedObject::open(&self.name).map_err(|err| {
            ShareError::NativeKey(match err.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "nothing is shared under the native key {:?} ({} does not exist): start the program that creates it first",
                    self.name,
                    self.location()
                ),
                _ => platform::native_key_denied(
                    Os::current(),
                    &self.name,
                    false,
                    err.raw_os_error(),
                )
                .unwrap_or_else(|| format!("cannot open {}: {err}", self.location())),
            })
        })
    }

    /// The object's bytes, copied once and checked whole by a sample of them (see
    /// [`copy_settled`]); copied again, up to [`READS`] times, while a writer is at work. With
    /// a raw shape and `landed` (its RGBA pixels' buffer), the pixels are converted into it in
    /// the same pass as the copy.
    fn read(&self, mut landed: Option<&mut [u8]>) -> Result<Copied, ShareError> {
        let object = self.open()?;
        // Over the bytes a copy gets (a raw shape's), as `newest_generation` samples them.
        let span = self
            .raw
            .map_or(object.len(), |shape| shape.bytes_needed().min(object.len()));
        copy_settled(
            || sampled_generation(span, |at, sample| object.read_at(at, sample)),
            || match (&self.raw, landed.as_deref_mut()) {
                (Some(shape), Some(rgba)) => self.read_converting(&object, shape, rgba),
                _ => self.read_once(&object).map(OneCopy::of_bytes),
            },
        )
    }

    /// A raw shape's pixels, copied and converted into `rgba` in one pass, a band of rows at a
    /// time: each band is converted while it is still in cache, and no copy of the whole
    /// object is made. The samples and the crc of the bytes are taken in the same pass.
    fn read_converting(
        &self,
        object: &NamedObject,
        shape: &RawShape,
        rgba: &mut [u8],
    ) -> Result<OneCopy, ShareError> {
        let span = shape.bytes_needed();
        if object.len() < span {
            return Err(CodecError::RawTooSmall {
                what: format!("the object {:?}", self.name),
                shape: shape.to_string(),
                needed: span,
                has: object.len(),
            }
            .into());
        }
        let span = usize::try_from(span).map_err(|_| {
            ShareError::NativeKey(format!(
                "the shape {shape} spans more than this machine can address"
            ))
        })?;
        let rows_per_band = (BAND / shape.stride.max(1)).max(1);
        let mut band = vec![0; (rows_per_band * shape.stride).min(span)];
        let mut samples = Samples::of(span as u64);
        let mut crc = crc32fast::Hasher::new();
        let (mut at, mut row) = (0, 0);
        while at < span {
            let band = &mut band[..(span - at).min(rows_per_band * shape.stride)];
            if object.read_at(at as u64, band) < band.len() {
                return Err(ShareError::NativeKey(format!(
                    "{} shrank while being read: the program that writes it made it smaller",
                    self.location()
                )));
            }
            samples.take(at as u64, band);
            crc.update(band);
            shape.rows_to_rgba(row, band, rgba);
            at += band.len();
            row += rows_per_band;
        }
        Ok(OneCopy {
            generation: samples.generation(),
            crc: crc.finalize(),
            len: span,
            content: Content::Converted,
        })
    }

    /// The bytes an image can need: with a raw shape only the pixels it spans (a 1 TiB object
    /// read as 4x4 costs 64 bytes), else the whole object, if within the segment bound that
    /// every mode applies. Memory follows the image, never the size another program chose.
    fn read_once(&self, object: &NamedObject) -> Result<Vec<u8>, ShareError> {
        let limit = match &self.raw {
            Some(shape) => shape.bytes_needed(),
            None if object.len() > MAX_SEGMENT_BYTES => {
                return Err(ShareError::NativeKey(format!(
                    "the object {:?} ({}) is {}, more than any image within the limits needs ({}): if it holds raw pixels, give their shape (--raw, or \"Raw shape\" in the inspector) and only those are read",
                    self.name,
                    self.location(),
                    human_bytes(object.len()),
                    human_bytes(MAX_SEGMENT_BYTES)
                )));
            }
            None => object.len(),
        };
        object
            .read_prefix(limit)
            .map_err(|err| ShareError::NativeKey(format!("cannot read {}: {err}", self.location())))
    }

    /// A fetch, a raw shape's pixels converted into `landed` where given (then `decoded` is
    /// `None`), else into a new image made once for every attempt of the copy.
    fn fetch_landing(&self, landed: Option<&mut [u8]>) -> Result<FetchedInto, ShareError> {
        let started = Instant::now();
        let mut image = None;
        let landed = match (landed, &self.raw) {
            (None, Some(shape)) => {
                Some(&mut **image.insert(RgbaImage::new(shape.width, shape.height)))
            }
            (landed, _) => landed,
        };
        let Copied {
            copy,
            kept_changing,
        } = self.read(landed)?;
        let copied = started.elapsed();
        let decoded = match copy.content {
            Content::Bytes(bytes) => Some(self.decode(&bytes)?.0),
            Content::Converted => image,
        };
        let (width, height) = match (&decoded, &self.raw) {
            (Some(image), _) => image.dimensions(),
            (None, Some(shape)) => (shape.width, shape.height),
            (None, None) => (0, 0),
        };
        let header = Header {
            encoding: Encoding::Raw,
            width,
            height,
            publisher_pid: 0,
            payload_len: copy.len as u64,
            // From the bytes read: the same value a probe gets, without reading the object again.
            generation: copy.generation,
            payload_crc: copy.crc,
        };
        Ok(FetchedInto {
            decoded,
            header,
            segment_size: copy.len,
            stages: Stages {
                copy: copied,
                total: started.elapsed(),
                ..Stages::default()
            },
            may_be_torn: kept_changing,
            note: kept_changing.then(|| {
                "changed while being read: the writer wrote during the copy (a native key has no lock), so the image may be torn".to_owned()
            }),
        })
    }

    /// What the bytes are: a shmimage or Qt payload by its magic, else the `--raw` shape.
    fn decode(&self, bytes: &[u8]) -> Result<(RgbaImage, String), ShareError> {
        let what = format!("the object {:?}", self.name);
        if let Some(shape) = &self.raw {
            return Ok((
                shape.to_rgba(bytes, &what)?,
                format!("raw {shape} (the shape given)"),
            ));
        }
        if bytes.starts_with(&codec::header::MAGIC) {
            let (_, image) = codec::decode_segment(bytes)?;
            return Ok((image, "a shmimage segment (by its magic)".to_owned()));
        }
        if codec::qt::starts_like_an_image(bytes) {
            return Ok((
                codec::qt::decode(bytes)?,
                "Qt's QDataStream image (by its start)".to_owned(),
            ));
        }
        Err(ShareError::NativeKey(format!(
            "{what} ({}) has no shmimage or Qt header; if it holds raw pixels, give their shape, WIDTHxHEIGHT:FORMAT such as 640x480:bgr8 (--raw on the command line, \"Raw shape\" in the window's inspector)",
            human_bytes(bytes.len() as u64)
        )))
    }
}

impl Protocol for NativeKeyProtocol {
    fn publish(&self, _image: &RgbaImage, _encoding: Encoding) -> Result<Publication, ShareError> {
        Err(ShareError::NativeKey(
            "images are published under a native key with `shmimage put IMAGE --native-key NAME --raw-format FORMAT`; here the native key is only read: clear it to share under the key".to_owned(),
        ))
    }

    fn fetch(&self) -> Result<Fetched, ShareError> {
        let fetched = self.fetch_landing(None)?;
        Ok(Fetched {
            image: fetched.decoded.unwrap_or_default(),
            header: fetched.header,
            segment_size: fetched.segment_size,
            stages: fetched.stages,
            note: fetched.note,
            may_be_torn: fetched.may_be_torn,
        })
    }

    /// With a raw shape, the pixels land in the window's texture buffer as they are copied:
    /// one pass from the object to what egui uploads.
    fn fetch_into(&self, landing: &mut dyn Landing) -> Result<FetchedInto, ShareError> {
        let Some(shape) = self.raw else {
            return self.fetch().map(FetchedInto::from);
        };
        let offered = Header {
            encoding: Encoding::Raw,
            width: shape.width,
            height: shape.height,
            publisher_pid: 0,
            payload_len: u64::from(shape.width) * u64::from(shape.height) * 4,
            generation: 0,
            payload_crc: 0,
        };
        match landing.buffer_for(&offered) {
            Some(lent) => self.fetch_landing(Some(lent.bytes)),
            None => self.fetch().map(FetchedInto::from),
        }
    }

    fn inspect(&self) -> Result<Inspection, ShareError> {
        // As in Qt, where key() is empty after setNativeKey: the name below is all there is.
        let mut inspection = Inspection::new("");
        inspection.rows[0].value = sentence!("none: the native key is used instead");
        inspection.row(
            "native key",
            sentence!(
                "%{name} (exact name: no hash, no prefix)",
                name = &self.name
            ),
        );
        match self.open() {
            Ok(object) => {
                inspection.row("object", self.location());
                let size = human_bytes(object.len());
                inspection.row(
                    "size",
                    if cfg!(target_os = "linux") {
                        Sentence::as_is(size)
                    } else {
                        sentence!(
                            "%{size} (whole pages: the OS rounds an object's size up)",
                            size = size
                        )
                    },
                );
                inspection.row(
                    "owner",
                    match object.owner_uid() {
                        Some(uid) => Sentence::as_is(format!("uid {uid}")),
                        None => {
                            sentence!("not recorded (Windows' named mappings have no owner uid)")
                        }
                    },
                );
                let format = match &self.raw {
                    Some(shape) => {
                        sentence!("raw %{shape} (the shape given)", shape = shape.to_string())
                    }
                    None => match self
                        .read_once(&object)
                        .and_then(|bytes| self.decode(&bytes))
                    {
                        Ok((_, format)) => Sentence::as_is(format),
                        Err(err) => Sentence::as_is(err.to_string()),
                    },
                };
                inspection.row("format assumed", format);
            }
            Err(err) => inspection.row(
                "object",
                sentence!("none: %{error}", error = err.to_string()),
            ),
        }
        inspection.row(
            "given up",
            sentence!(
                "no lock and no liveness tracking, as with Qt's setNativeKey: a read can tear if the writer writes during the copy (detected by sampling it before and after)"
            ),
        );
        Ok(inspection)
    }

    /// A hash of the object's size and a sample of its bytes (see [`sample_offsets`], read where
    /// they are): cheap enough to compare at frame rate, and it changes when a writer rewrites
    /// in place, unless it changes only bytes between the samples.
    fn newest_generation(&self) -> Result<Option<u64>, ShareError> {
        let Ok(object) = NamedObject::open(&self.name) else {
            return Ok(None);
        };
        // Over the bytes a fetch reads (a raw shape's), so a fetch and a probe agree.
        let span = self
            .raw
            .map_or(object.len(), |shape| shape.bytes_needed().min(object.len()));
        Ok(Some(sampled_generation(span, |at, sample| {
            object.read_at(at, sample)
        })))
    }

    /// On Linux a `write` into `/dev/shm/NAME` is reported once it is done, so a follower
    /// fetches a rewritten frame as soon as it is whole. Writes through a mapping (NumPy's) make
    /// no event, so Follow keeps probing as well.
    #[cfg(target_os = "linux")]
    fn change_watch(&self) -> Option<super::ChangeWatch> {
        Some(super::ChangeWatch {
            dir: "/dev/shm".into(),
            file_prefix: self.name.clone(),
            file_suffix: String::new(),
            probe_too: true,
        })
    }

    fn attach(&self) -> Result<AttachedReader, ShareError> {
        Err(ShareError::NativeKey(
            "a native key cannot be held attached: it is read and let go".to_owned(),
        ))
    }
}

/// Copies until the copy is whole by its samples: the object's samples just before the copy,
/// the copy's own, and the object's just after, all the same. One copy where nobody writes,
/// where reading twice and comparing cost two full copies and a full compare. The trade-off: a
/// write that changes only bytes between two samples (at most 128 of 64 bytes, at least 64 KiB
/// apart) during the copy goes unseen; a writer that rewrites whole frames, as a video source
/// does, changes every sample. The last copy is said to keep changing if none settled in
/// [`READS`] copies.
fn copy_settled(
    mut probe: impl FnMut() -> u64,
    mut copy: impl FnMut() -> Result<OneCopy, ShareError>,
) -> Result<Copied, ShareError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let before = quiet(&mut probe);
        let copied = copy()?;
        let after = probe();
        let settled = before == copied.generation && copied.generation == after;
        if settled || attempt == READS {
            return Ok(Copied {
                copy: copied,
                kept_changing: !settled,
            });
        }
    }
}

/// How far apart two probes must agree before a copy starts, and how many pairs are tried.
const QUIET: Duration = Duration::from_millis(1);
const QUIET_TRIES: usize = 20;

/// The object's generation once two probes [`QUIET`] apart agree: a writer that is rewriting
/// the object changes its samples between them. Starting the copy then, rather than at once,
/// is what lets a reader keep up with a video source that rewrites a 4K frame every 33 ms:
/// without it, most copies began mid-write and had to be made again. Gives up waiting after
/// [`QUIET_TRIES`] pairs, and copies anyway.
fn quiet(probe: &mut impl FnMut() -> u64) -> u64 {
    let mut last = probe();
    for _ in 0..QUIET_TRIES {
        std::thread::sleep(QUIET);
        let now = probe();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// What one copy of the object got.
struct OneCopy {
    content: Content,
    /// The bytes copied.
    len: usize,
    /// Their sampled generation: what a probe of the object gets while it holds them.
    generation: u64,
    crc: u32,
}

enum Content {
    /// The object's bytes, to be decoded by what they start with.
    Bytes(Vec<u8>),
    /// A raw shape's pixels, converted into the buffer given as they were copied.
    Converted,
}

impl OneCopy {
    fn of_bytes(bytes: Vec<u8>) -> Self {
        Self {
            generation: generation_of(&bytes),
            crc: crc32fast::hash(&bytes),
            len: bytes.len(),
            content: Content::Bytes(bytes),
        }
    }
}

/// A native key's copy as [`copy_settled`] left it.
struct Copied {
    copy: OneCopy,
    /// Never settled: a writer kept writing during every copy.
    kept_changing: bool,
}

/// How many bytes a copy that converts as it goes takes at a time: well within a core's cache.
const BAND: usize = 256 * 1024;

/// The bytes at [`sample_offsets`] of a span, gathered as a copy passes them.
struct Samples {
    len: u64,
    at: Vec<u64>,
    bytes: Vec<[u8; SAMPLE]>,
}

impl Samples {
    fn of(len: u64) -> Self {
        let at: Vec<u64> = sample_offsets(len).collect();
        Self {
            len,
            bytes: vec![[0; SAMPLE]; at.len()],
            at,
        }
    }

    /// Keeps what of the samples `chunk`, the bytes from `from` on, holds.
    fn take(&mut self, from: u64, chunk: &[u8]) {
        let to = from + chunk.len() as u64;
        for (at, sample) in self.at.iter().zip(&mut self.bytes) {
            let (start, end) = ((*at).max(from), (at + SAMPLE as u64).min(to));
            if start < end {
                sample[(start - at) as usize..(end - at) as usize]
                    .copy_from_slice(&chunk[(start - from) as usize..(end - from) as usize]);
            }
        }
    }

    /// The same value as [`sampled_generation`] reading the bytes the samples came from.
    fn generation(&self) -> u64 {
        sampled_generation(self.len, |at, sample| {
            let Ok(index) = self.at.binary_search(&at) else {
                return 0;
            };
            let count = sample.len().min((self.len - at) as usize);
            sample[..count].copy_from_slice(&self.bytes[index][..count]);
            count
        })
    }
}

/// [`sampled_generation`] of bytes already copied.
fn generation_of(bytes: &[u8]) -> u64 {
    sampled_generation(bytes.len() as u64, |at, sample| {
        let from = &bytes[at as usize..];
        let count = sample.len().min(from.len());
        sample[..count].copy_from_slice(&from[..count]);
        count
    })
}

/// Bytes sampled, how far apart at least, and how many samples at most, for Follow's checksum
/// of a native key's object. The cap keeps a probe's cost flat however large the object: each
/// sample is one read.
const SAMPLE: usize = 64;
const SAMPLE_EVERY: u64 = 64 * 1024;
const MAX_SAMPLES: u64 = 128;

/// Where Follow samples an object of `len` bytes: every 64 KiB, or `len / 128` apart once that
/// is farther.
fn sample_offsets(len: u64) -> impl Iterator<Item = u64> {
    let every = (len / MAX_SAMPLES).max(SAMPLE_EVERY);
    (0..len).step_by(usize::try_from(every).unwrap_or(usize::MAX))
}

/// A hash of the object's length and of `SAMPLE` bytes at each of [`sample_offsets`]
/// (`read_at(at, sample)` fills `sample` from `at` and says how many bytes it read); never 0,
/// which is Follow's "nothing shown".
fn sampled_generation(len: u64, mut read_at: impl FnMut(u64, &mut [u8]) -> usize) -> u64 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len.to_le_bytes());
    let mut sample = [0u8; SAMPLE];
    for at in sample_offsets(len) {
        let read = read_at(at, &mut sample);
        hasher.update(&sample[..read]);
    }
    u64::from(hasher.finalize()) | 1 << 32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One copy where nobody writes; copied again while a writer is at work (the object's
    /// samples differ before and after a copy); said to keep changing if it never settles.
    #[test]
    fn a_copy_is_kept_once_its_samples_agree() {
        let frame = |n: u8| vec![n; 300 * 1024];
        let first_byte = |copied: &Copied| match &copied.copy.content {
            Content::Bytes(bytes) => bytes[0],
            Content::Converted => unreachable!("copied as bytes"),
        };
        let copies = std::cell::Cell::new(0u8);
        let stable = copy_settled(
            || generation_of(&frame(1)),
            || {
                copies.set(copies.get() + 1);
                Ok(OneCopy::of_bytes(frame(1)))
            },
        )
        .unwrap();
        assert_eq!(
            (first_byte(&stable), stable.kept_changing, copies.get()),
            (1, false, 1)
        );
        assert_eq!(stable.copy.generation, generation_of(&frame(1)));
        // A writer busy during the first copy: the object reads as frame 1 (twice, so it looks
        // quiet), then as frame 2 from the end of that copy on.
        let probes = std::cell::Cell::new(0u8);
        copies.set(0);
        let settled = copy_settled(
            || {
                probes.set(probes.get() + 1);
                generation_of(&frame(if probes.get() <= 2 { 1 } else { 2 }))
            },
            || {
                copies.set(copies.get() + 1);
                Ok(OneCopy::of_bytes(frame(2)))
            },
        )
        .unwrap();
        assert_eq!(
            (first_byte(&settled), settled.kept_changing, copies.get()),
            (2, false, 2)
        );
        // Always changing: the last copy, said to be torn.
        let n = std::cell::Cell::new(0u8);
        let torn = copy_settled(
            || {
                n.set(n.get() + 1);
                generation_of(&frame(n.get()))
            },
            || Ok(OneCopy::of_bytes(frame(n.get()))),
        )
        .unwrap();
        assert!(torn.kept_changing);
    }

    /// A fetch's generation, from the bytes it read, is what a probe reading the object gets:
    /// else Follow would fetch the same object again and again.
    /// Also past the sample cap (a 3000x3000 gray8 object is 8.6 MiB, sampled `len / 128` apart).
    #[test]
    fn a_fetch_and_a_probe_agree_on_the_generation() {
        for (side, tag) in [(400u32, "small"), (3000, "large")] {
            // At most 30 bytes: macOS allows no more.
            let name = format!("shmimage-gen-{tag}-{}", std::process::id());
            let len = side * side;
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
            let _object = CreatedObject::create_new(&name, &bytes).unwrap();
            // The whole object, and a shape that spans only its first half.
            for rows in [side, side / 2] {
                let shape = format!("{side}x{rows}:gray8").parse().ok();
                let protocol = NativeKeyProtocol::new(&name, shape).unwrap();
                let fetched = protocol.fetch().unwrap();
                let probed = protocol.newest_generation().unwrap();
                assert_eq!(Some(fetched.header.generation), probed, "{tag} {rows}");
                assert_ne!(probed, Some(sampled_generation(1, |_, _| 0)), "{tag}");
            }
        }
    }

    /// A copy that converts a band of rows at a time gives the image a copy of all the bytes
    /// and a conversion give, padded rows and a last band shorter than the others included.
    #[test]
    fn a_copy_converted_in_bands_is_the_whole_copy_converted() {
        let name = format!("shmimage-bands-{}", std::process::id());
        // Rows of 3000 bgr8 pixels padded to 9004 bytes: 29 rows a band, and 7 rows left over.
        let shape: RawShape = "3000x94:bgr8:9004".parse().unwrap();
        let bytes: Vec<u8> = (0..shape.bytes_needed() as u32)
            .map(|i| (i * 13 + i / 9004) as u8)
            .collect();
        let _object = CreatedObject::create_new(&name, &bytes).unwrap();
        let protocol = NativeKeyProtocol::new(&name, Some(shape)).unwrap();
        let fetched = protocol.fetch().unwrap();
        assert_eq!(fetched.image, shape.to_rgba(&bytes, "bytes").unwrap());
        assert_eq!(fetched.header.payload_crc, crc32fast::hash(&bytes));
        assert_eq!(fetched.header.generation, generation_of(&bytes));
        // Landed in a buffer the window offers: the same pixels, and no image besides.
        struct Buffer(Vec<u8>, crate::protocol::NoParts);
        impl Landing for Buffer {
            fn buffer_for(&mut self, header: &Header) -> Option<crate::protocol::Lent<'_>> {
                self.0 = vec![0; header.payload_len as usize];
                Some(crate::protocol::Lent {
                    bytes: &mut self.0,
                    parts: &mut self.1,
                })
            }
        }
        let mut buffer = Buffer(Vec::new(), crate::protocol::NoParts);
        let landed = protocol.fetch_into(&mut buffer).unwrap();
        assert!(landed.decoded.is_none());
        assert_eq!(buffer.0, fetched.image.into_raw());
        assert_eq!(
            (landed.header.width, landed.header.generation),
            (3000, fetched.header.generation)
        );
    }

    /// The inspector and a fetch of a 1 TiB object without a shape: a sentence, not an abort.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_object_over_the_segment_bound_is_read_only_through_a_shape() {
        let name = format!("shmimage-unit-huge-{}", std::process::id());
        let path = std::path::PathBuf::from(format!("/dev/shm/{name}"));
        std::fs::File::create(&path)
            .unwrap()
            .set_len(1 << 40)
            .unwrap();
        let unshaped = NativeKeyProtocol::new(&name, None).unwrap();
        let inspection = unshaped.inspect().unwrap();
        let said = format!("{inspection:?}");
        let fetched = unshaped.fetch().err().map(|err| err.to_string());
        let shaped = NativeKeyProtocol::new(&name, "4x4:rgba8".parse().ok()).unwrap();
        let image = shaped.fetch().map(|f| f.image.dimensions());
        std::fs::remove_file(&path).unwrap();
        assert!(
            said.contains("more than any image within the limits needs"),
            "{said}"
        );
        assert!(fetched.unwrap().contains("give their shape"));
        assert_eq!(image.unwrap(), (4, 4));
    }

    #[test]
    fn samples_are_64_kib_apart_and_at_most_128_or_so() {
        let small: Vec<u64> = sample_offsets(200_000).collect();
        assert_eq!(small, [0, 65_536, 131_072, 196_608]);
        for len in [8 << 20, (8 << 20) + 1, 64 << 20, (1 << 32) + 12_345] {
            let offsets: Vec<u64> = sample_offsets(len).collect();
            assert!(
                (128..=129).contains(&offsets.len()),
                "{len}: {}",
                offsets.len()
            );
            assert!(offsets.iter().all(|&at| at < len));
        }
        assert_eq!(sample_offsets(0).count(), 0);
    }
}
