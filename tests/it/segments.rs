//! Whatever another process may leave under a key, `shmimage get` answers with one clear error
//! and the next real publish and fetch work. Each bad segment is a file in the key's directory
//! that this test process holds (a shared lock, as a live publisher does), so it counts as live.

use std::fs::File;
use std::path::PathBuf;
#[cfg(unix)]
use std::process::Command;

use shmimage::codec::header::{COMMIT_OFFSET, COMMIT_WORD};
use shmimage::codec::{Encoding, Header};

use crate::util::{Scratch, load, test_image};

/// A segment file under the scratch key, held live by this process while the value lives.
struct PlantedSegment {
    path: PathBuf,
    _held: Option<File>,
}

impl Drop for PlantedSegment {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.path);
    }
}

fn segment_path(scratch: &Scratch, generation: u64) -> PathBuf {
    let native = shmimage::ipc::segment::native_key_for(&scratch.key).unwrap();
    scratch
        .seg_dir()
        .join(format!("{native}.g{generation}.seg"))
}

fn plant(scratch: &Scratch, generation: u64, bytes: &[u8]) -> PlantedSegment {
    // The directory is created by a first use, with its private permissions.
    scratch.ok(&["info"]);
    let path = segment_path(scratch, generation);
    std::fs::write(&path, bytes).unwrap();
    let file = File::open(&path).unwrap();
    file.lock_shared().unwrap();
    PlantedSegment {
        path,
        _held: Some(file),
    }
}

fn header(width: u32, height: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Header {
        encoding: Encoding::Raw,
        width,
        height,
        publisher_pid: 4242,
        payload_len: payload.len() as u64,
        generation: 1,
        payload_crc: crc32fast::hash(payload),
    }
    .to_bytes()
    .to_vec();
    bytes.extend_from_slice(&COMMIT_WORD);
    bytes.extend_from_slice(&[0; 4]);
    bytes
}

#[cfg(unix)]
fn get_fails_with(scratch: &Scratch, says: &str) {
    let error = scratch.fails(&["get", scratch.path("out.png").to_str().unwrap()]);
    assert!(error.contains(says), "expected {says:?}, got: {error}");
}

/// After each bad case, the real thing still works under the same key.
fn still_healthy(scratch: &Scratch) {
    let original = test_image(9, 7, 31);
    let input = scratch.save("good.png", &original);
    let publisher = scratch.put(&input, &[]);
    let out = scratch.path("good-out.png");
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(load(&out), original);
    drop(publisher);
}

#[test]
fn foreign_or_damaged_segments_each_get_a_clear_error() {
    let scratch = Scratch::new("bad-segments");
    let pixels = vec![7u8; 4 * 4 * 4];
    let good = {
        let mut bytes = header(4, 4, &pixels);
        bytes.extend_from_slice(&pixels);
        bytes
    };

    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut wrong_magic = good.clone();
    wrong_magic[0..8].copy_from_slice(b"NOTMAGIC");
    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&2u32.to_le_bytes());
    let mut cut = header(4, 4, &pixels);
    cut.extend_from_slice(&pixels[..10]);
    let mut huge_claim = header(4, 4, &pixels);
    huge_claim[32..40].copy_from_slice(&(4u64 << 30).to_le_bytes());
    let crc = crc32fast::hash(&huge_claim[..52]);
    huge_claim[52..56].copy_from_slice(&crc.to_le_bytes());
    huge_claim.extend_from_slice(&pixels);
    let mut torn = good.clone();
    *torn.last_mut().unwrap() ^= 0xff;
    let mut unfinished = good.clone();
    unfinished[COMMIT_OFFSET..COMMIT_OFFSET + 4].copy_from_slice(&[0; 4]);
    let mut damaged_header = good.clone();
    damaged_header[16] ^= 1;

    let cases: [(&str, Vec<u8>, &str); 10] = [
        ("random bytes", random, "does not hold a shmimage image"),
        ("wrong magic", wrong_magic, "does not hold a shmimage image"),
        ("newer format", newer, "written by a newer shmimage"),
        ("payload cut short", cut, "holds only"),
        ("4 GB claimed", huge_claim, "claims 4294967296 bytes"),
        (
            "checksum mismatch",
            torn,
            "the image is damaged: its checksum",
        ),
        (
            "never finished",
            unfinished,
            "publisher stopped while writing",
        ),
        ("damaged header", damaged_header, "header is damaged"),
        ("zero-length file", Vec::new(), "0 bytes cannot be mapped"),
        ("a few bytes", vec![1, 2, 3], "too short"),
    ];
    for (what, bytes, says) in cases {
        let planted = plant(&scratch, 1, &bytes);
        let error = scratch.fails(&["get", scratch.path("out.png").to_str().unwrap()]);
        assert!(
            error.contains(says),
            "{what}: expected {says:?}, got: {error}"
        );
        drop(planted);
        still_healthy(&scratch);
    }
}

#[cfg(unix)]
#[test]
fn a_directory_or_symlink_in_place_of_a_segment_is_refused_and_nothing_outside_is_touched() {
    let scratch = Scratch::new("planted");
    scratch.ok(&["info"]);
    let outside = scratch.path("outside.txt");
    std::fs::write(&outside, b"precious").unwrap();

    let path = segment_path(&scratch, 7);
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    let planted = PlantedSegment {
        path: path.clone(),
        _held: None,
    };
    get_fails_with(&scratch, "symbolic link");
    drop(planted);

    std::fs::create_dir(&path).unwrap();
    let planted = PlantedSegment { path, _held: None };
    get_fails_with(&scratch, "directory");
    drop(planted);

    assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
    still_healthy(&scratch);

    // A FIFO where the lock file should be: refused at once, never a hang on open.
    let other = Scratch::new("planted-lock");
    other.ok(&["info"]);
    let native = shmimage::ipc::segment::native_key_for(&other.key).unwrap();
    let lock = other.seg_dir().join(format!("{native}.lock"));
    std::fs::remove_file(&lock).unwrap();
    let made = Command::new("mkfifo").arg(&lock).status().unwrap();
    assert!(made.success());
    get_fails_with(&other, "where the lock file should be");
}

/// A segment cut by another process after the reader attached: the reader checks the file
/// still covers its mapping before every copy, so it reports the change instead of SIGBUS.
/// Unix only: Windows refuses to shorten a file while it is mapped.
#[cfg(unix)]
#[test]
fn a_segment_truncated_while_attached_is_reported_not_a_crash() {
    use shmimage::ipc::segment::{AccessMode, SegmentDir, SharedMemory};
    let scratch = Scratch::new("truncated");
    let dir = SegmentDir::at(scratch.seg_dir()).unwrap();
    let mut writer = SharedMemory::in_dir(&scratch.key, dir.clone()).unwrap();
    writer.create(1 << 20).unwrap();
    let mut reader = SharedMemory::in_dir(&scratch.key, dir).unwrap();
    reader.attach(AccessMode::ReadOnly).unwrap();
    let path = reader.path().unwrap().to_path_buf();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let error = reader.lock().err().expect("the cut must be noticed");
    assert!(
        error.to_string().contains("was changed by another process"),
        "{error}"
    );
}
