use super::*;

#[test]
fn steps_read_back_in_order_and_survive_the_ring_wrapping() {
    let dir = tempfile::tempdir().unwrap();
    let handle = open(dir.path(), "k", "native-k", "n", false).unwrap();
    for index in 0..(SLOTS + 5) {
        let mut entry = handle.begin(Step::Lock, State::Running, format!("step {index}"));
        entry.finish(State::Ok, Duration::from_micros(index as u64), None);
    }
    let journals = read(dir.path(), "native-k", "n");
    assert_eq!(journals.len(), 1);
    let journal = &journals[0];
    assert!(journal.alive, "our own journal is held while we live");
    assert_eq!(journal.owner.pid, std::process::id());
    assert_eq!(journal.records.len(), SLOTS);
    assert_eq!(journal.records[0].text, "step 5");
    assert_eq!(
        journal.records.last().unwrap().text,
        format!("step {}", SLOTS + 4)
    );
    // The same process gets the same journal again.
    let again = open(dir.path(), "k", "native-k", "n", false).unwrap();
    again.note(Step::Detach, "again".to_owned());
    assert_eq!(read(dir.path(), "native-k", "n").len(), 1);
}

#[test]
fn garbage_journal_files_are_passed_over_and_old_ones_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("native-g~n~1~1.journal");
    fs::write(&garbage, vec![0x5a; FILE_LEN]).unwrap();
    // Young files with no valid header: maybe being made, so never removed.
    let young: Vec<PathBuf> = (0..KEEP_DEAD + PRUNE_SLACK)
        .map(|n| dir.path().join(format!("native-g~n~2~{n}.journal")))
        .collect();
    for path in &young {
        fs::write(path, b"shmimage-jrnl-01").unwrap();
    }
    assert!(read(dir.path(), "native-g", "n").is_empty());
    // A garbage file that is old enough and held by nobody goes at the next open.
    let old = SystemTime::now() - Duration::from_secs(60);
    File::options()
        .write(true)
        .open(&garbage)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let handle = open(dir.path(), "g", "native-g", "n", false).unwrap();
    handle.note(Step::Attach, String::new());
    assert!(!garbage.exists());
    assert!(young.iter().all(|path| path.exists()));
    assert_eq!(read(dir.path(), "native-g", "n").len(), 1);
}

#[test]
fn only_names_of_a_journals_shape_are_journals() {
    assert!(is_journal_name("k_00ff~qt5~4711~1700000000000000.journal"));
    for other in [
        "notes~1.journal",
        "a~b~c~d.journal",
        "k~n~1~2.journal.bak",
        "k~n~~2.journal",
        "../k~n~1~2.journal",
        "k~n-x~1~2.journal",
    ] {
        assert!(!is_journal_name(other), "{other}");
    }
}

/// A dead process's journal (no lock held) under key `key`, the `n`th opened.
fn plant_dead_journal(dir: &Path, key: &str, n: usize) {
    let owner = Owner {
        pid: 1000 + n as u32,
        role: Role::Get,
        qt: false,
        key: key.to_owned(),
        opened_us: n as u64,
    };
    let mut bytes = vec![0u8; FILE_LEN];
    bytes[..HEADER_LEN].copy_from_slice(&owner.to_bytes());
    let name = format!("native-{key}~n~{}~{n}.journal", owner.pid);
    fs::write(dir.join(name), bytes).unwrap();
}

/// 300 processes under 300 keys left 300 journals: the bound was per key only.
#[test]
fn dead_journals_are_bounded_across_keys() {
    let dir = tempfile::tempdir().unwrap();
    let count = KEEP_DEAD_IN_ALL + PRUNE_SLACK + 20;
    for n in 0..count {
        plant_dead_journal(dir.path(), &format!("k{n}"), n);
    }
    open(dir.path(), "new", "native-new", "n", false).unwrap();
    let left = all_journal_files(dir.path());
    assert_eq!(
        left.len(),
        KEEP_DEAD_IN_ALL + 1,
        "the newest dead, and ours"
    );
    let newest = format!("native-k{}~", count - 1);
    assert!(left.iter().any(|p| p.to_string_lossy().contains(&newest)));
    assert!(
        !left
            .iter()
            .any(|p| p.to_string_lossy().contains("native-k0~"))
    );
}

#[test]
fn only_the_newest_dead_processes_journals_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let count = KEEP_DEAD + PRUNE_SLACK + 5;
    for n in 0..count {
        plant_dead_journal(dir.path(), "d", n);
    }
    let handle = open(dir.path(), "d", "native-d", "n", false).unwrap();
    handle.note(Step::Attach, String::new());
    let journals = read(dir.path(), "native-d", "n");
    // Our own live one, and the newest dead ones.
    assert_eq!(journals.len(), KEEP_DEAD + 1);
    let oldest_kept = journals
        .iter()
        .filter(|j| !j.alive)
        .map(|j| j.owner.opened_us)
        .min();
    assert_eq!(oldest_kept, Some((count - KEEP_DEAD) as u64));
}
