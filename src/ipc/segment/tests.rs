use super::files::parse_segment_name;
use super::*;

fn scratch() -> (tempfile::TempDir, SegmentDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = SegmentDir::at(tmp.path().join("seg")).unwrap();
    (tmp, dir)
}

#[test]
fn attach_fails_when_nothing_is_shared() {
    let (_tmp, dir) = scratch();
    let mut shm = SharedMemory::in_dir("nothing", dir).unwrap();
    let err = shm.attach(AccessMode::ReadOnly).unwrap_err();
    assert_eq!(err.kind(), SharedMemoryError::NotFound);
}

#[test]
fn create_is_exclusive_while_the_creator_lives() {
    let (_tmp, dir) = scratch();
    let mut first = SharedMemory::in_dir("k", dir.clone()).unwrap();
    first.create(10).unwrap();
    let mut second = SharedMemory::in_dir("k", dir.clone()).unwrap();
    assert_eq!(
        second.create(10).unwrap_err().kind(),
        SharedMemoryError::AlreadyExists
    );
    second.create_replacing(20).unwrap();
    assert_eq!(second.generation(), Some(2));
}

#[test]
fn bytes_round_trip_and_last_detach_removes_the_segment() {
    let (_tmp, dir) = scratch();
    let mut writer = SharedMemory::in_dir("k", dir.clone()).unwrap();
    writer.create(5).unwrap();
    writer.lock().unwrap().write(0, b"hello").unwrap();
    let path = writer.path().unwrap().to_path_buf();

    let mut reader = SharedMemory::in_dir("k", dir.clone()).unwrap();
    reader.attach(AccessMode::ReadOnly).unwrap();
    assert_eq!(reader.size(), 5);
    let mut out = [0u8; 5];
    {
        let mut access = reader.lock().unwrap();
        access.read(0, &mut out).unwrap();
        assert_eq!(
            access.write(0, b"x").unwrap_err().kind(),
            SharedMemoryError::PermissionDenied
        );
        assert!(access.read(1, &mut out).is_err());
    }
    assert_eq!(&out, b"hello");
    assert!(reader.detach());
    assert!(path.exists(), "the writer is still attached");
    assert!(writer.detach());
    assert!(!path.exists());
    assert!(!writer.detach());
}

#[test]
fn readers_get_the_newest_live_generation() {
    let (_tmp, dir) = scratch();
    let mut old = SharedMemory::in_dir("k", dir.clone()).unwrap();
    old.create(1).unwrap();
    let mut new = SharedMemory::in_dir("k", dir.clone()).unwrap();
    new.create_replacing(2).unwrap();
    let mut reader = SharedMemory::in_dir("k", dir.clone()).unwrap();
    reader.attach(AccessMode::ReadOnly).unwrap();
    assert_eq!(reader.size(), 2);
    reader.detach();
    drop(new);
    reader.attach(AccessMode::ReadOnly).unwrap();
    assert_eq!(
        reader.size(),
        1,
        "falls back to the older image whose publisher still lives"
    );
}

#[test]
fn a_lock_held_by_another_job_of_this_process_is_named_as_such() {
    let (_tmp, dir) = scratch();
    let mut holder = SharedMemory::in_dir("k", dir.clone()).unwrap();
    holder.create(1).unwrap();
    let _held = holder.lock().unwrap();
    let mut waiter = SharedMemory::in_dir("k", dir).unwrap();
    waiter.set_lock_timeout(Duration::from_millis(50));
    let err = waiter.attach(AccessMode::ReadOnly).unwrap_err();
    assert!(
        err.to_string().contains("another job of this same process"),
        "{err}"
    );
}

#[test]
fn segment_names_parse_only_when_well_formed() {
    assert_eq!(parse_segment_name("abc_12.g7.seg"), Some(("abc_12", 7)));
    assert_eq!(parse_segment_name("abc.g0.seg"), None);
    assert_eq!(parse_segment_name("abc.gx.seg"), None);
    assert_eq!(parse_segment_name(".x.g1.seg"), None);
    assert_eq!(parse_segment_name("abc.lock"), None);
}
