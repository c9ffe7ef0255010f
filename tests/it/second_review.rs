//! The holes the second review found (issue 25), each closed with a test that failed before the
//! fix: real processes, and a real second user (`setpriv --reuid=65534`) where the hole involves
//! one. Root-only tests are #[ignore]d and run by `scripts/check.sh` as root.

use std::path::Path;
#[cfg(unix)]
use std::path::PathBuf;
#[cfg(unix)]
use std::process::Command;

#[cfg(target_os = "linux")]
use crate::hardening::RemoveOnDrop;
#[cfg(target_os = "linux")]
use crate::util::Publisher;
#[cfg(unix)]
use crate::util::{BIN, load, run_with_deadline};
use crate::util::{Scratch, test_image};

/// The uid and gid every "other user" here runs as.
#[cfg(target_os = "linux")]
const NOBODY: &str = "65534";

/// `sh -c SCRIPT` as the other user.
#[cfg(target_os = "linux")]
fn as_nobody(script: &str) {
    let status = Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
            "sh",
            "-c",
            script,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "as nobody: {script}");
}

/// No signal, no abort, no panic: the process ended by itself, with a sentence if it failed.
fn ended_by_itself(output: &std::process::Output, what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    #[cfg(unix)]
    assert!(
        std::os::unix::process::ExitStatusExt::signal(&output.status).is_none(),
        "{what}: killed by a signal: {:?}\n{stderr}",
        output.status
    );
    // shmimage exits 0, 1 (a refusal) or 2 (a usage error); anything else is a crash, however
    // it was relayed (a shell says 128 + the signal, a Python parent 256 less it).
    assert!(
        matches!(output.status.code(), Some(0..=2)),
        "{what}: {:?}\n{stderr}",
        output.status
    );
    assert_ne!(
        output.status.code(),
        Some(101),
        "{what}: panicked\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(!stderr.contains("memory allocation"), "{what}: {stderr}");
}

/// A temp folder inside the scratch one that every user may write (sticky, as /tmp), reachable
/// by the other user through the scratch folder.
#[cfg(target_os = "linux")]
fn shared_temp(scratch: &Scratch) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let temp = scratch.path("tmp");
    std::fs::create_dir(&temp).unwrap();
    for (path, mode) in [(scratch.tmp.path(), 0o755), (temp.as_path(), 0o1777)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    temp
}

// 1. `check` worked in `<temp>/shmimage-check-<pid>`, a folder anyone could make first, followed
// links in it, and cleaned up any keys a dead-looking folder listed.

/// Folders planted for the next PIDs, as another user can: `alive` and `keys` link to root's
/// files, and a dead-looking run's `keys` lists a live Qt-mode key. The check runs as root and
/// must neither write through the links nor touch the live image.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: plants folders as another user and runs the check as root"]
fn check_follows_no_planted_link_and_cleans_no_planted_key() {
    crate::faults::require_root();
    let scratch = Scratch::new("planted-check");
    let temp = shared_temp(&scratch);
    let alive_victim = scratch.path("root-alive");
    let keys_victim = scratch.path("root-keys");
    std::fs::write(&alive_victim, b"root's first file").unwrap();
    std::fs::write(&keys_victim, b"root's second file").unwrap();
    // A live image shared in Qt 5 mode under a key a planted list names.
    let live_key = format!("victim-qt-{}", std::process::id());
    let image = test_image(7, 5, 3);
    let input = scratch.save("live.png", &image);
    let mut publish = scratch.cmd_with_key(&live_key, &["--qt", "put", input.to_str().unwrap()]);
    publish.env("TMPDIR", &temp);
    let _publisher = Publisher::start(publish, "ready");
    // The next few hundred PIDs, and one run that looks dead.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let dead = temp.join("shmimage-check-99999");
    let script = format!(
        "for pid in $(seq {first} {last}) 99999; do f={temp}/shmimage-check-$pid; \
           mkdir $f && ln -s {a} $f/alive && ln -s {k} $f/keys && ln -s {k} $f/first.png; \
         done; rm {d}/keys {d}/alive && echo {live_key} > {d}/keys",
        first = last + 1,
        last = last + 400,
        temp = temp.display(),
        a = alive_victim.display(),
        k = keys_victim.display(),
        d = dead.display()
    );
    as_nobody(&script);

    let mut check = scratch.cmd(&["check"]);
    check.env("TMPDIR", &temp);
    let output = run_with_deadline(check);
    ended_by_itself(&output, "check");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(std::fs::read(&alive_victim).unwrap(), b"root's first file");
    assert_eq!(std::fs::read(&keys_victim).unwrap(), b"root's second file");
    let out = scratch.path("out.png");
    let mut get = scratch.cmd_with_key(&live_key, &["--qt", "get", out.to_str().unwrap()]);
    get.env("TMPDIR", &temp);
    let got = run_with_deadline(get);
    assert!(got.status.success(), "{got:?}");
    assert_eq!(load(&out), image, "the live image is untouched");
}

/// Qt 5 mode's key files live in the shared temp folder: one another user made first is used
/// (as Qt does) but never removed, even by root.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: another user makes Qt's key file"]
fn qt5_mode_never_removes_another_users_key_file() {
    crate::faults::require_root();
    let scratch = Scratch::new("qt5-keyfile");
    let temp = shared_temp(&scratch);
    let key = format!("plantedkeyfile{}", std::process::id());
    let letters: String = key.chars().filter(char::is_ascii_alphabetic).collect();
    let hash = sha1_smol::Sha1::from(key.as_bytes()).digest().to_string();
    let key_file = temp.join(format!("qipc_sharedmemory_{letters}{hash}"));
    as_nobody(&format!(": > {}", key_file.display()));
    let input = scratch.save("in.png", &test_image(4, 4, 8));
    let mut put = scratch.cmd_with_key(
        &key,
        &["--qt", "put", input.to_str().unwrap(), "--hold-ms", "200"],
    );
    put.env("TMPDIR", &temp);
    let output = run_with_deadline(put);
    assert!(output.status.success(), "{output:?}");
    let meta = std::fs::symlink_metadata(&key_file).expect("the key file is left");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534);
}

// 2. Qt 6 mode mapped another user's `/dev/shm/sem.<key>` and died of SIGBUS.

/// What another user can plant at Qt 6's semaphore (an empty file, one of a semaphore's size
/// open to all, a link, a FIFO, a directory): `put` and `get` say whose it is, and leave it.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: plants Qt 6's semaphore as another user"]
fn another_users_qt6_semaphore_is_refused_naming_its_owner_never_a_sigbus() {
    crate::faults::require_root();
    let scratch = Scratch::new("qt6-planted-sem");
    let key = format!("shmimage-planted-sem-{}", std::process::id());
    let sem = PathBuf::from(format!("/dev/shm/sem.{key}"));
    let _cleanup = RemoveOnDrop(vec![sem.clone(), PathBuf::from(format!("/dev/shm/{key}"))]);
    let input = scratch.save("in.png", &test_image(4, 4, 1));
    let out = scratch.path("out.png");
    // Empty (a SIGBUS at the first wait), then one semaphore long but another user's (a planted
    // value 0 would block the key for good).
    for plant in [
        format!(": > {}", sem.display()),
        format!(
            "rm -f {s}; head -c 32 /dev/zero > {s}; chmod 666 {s}",
            s = sem.display()
        ),
        // Never followed nor opened.
        format!("ln -s /etc/shadow {}", sem.display()),
        format!("mkfifo {}", sem.display()),
        format!("mkdir {}", sem.display()),
    ] {
        let _ = std::fs::remove_file(&sem).or_else(|_| std::fs::remove_dir(&sem));
        as_nobody(&plant);
        for args in [
            vec!["--qt6", "put", input.to_str().unwrap()],
            vec!["--qt6", "get", out.to_str().unwrap()],
        ] {
            let output = run_with_deadline(scratch.cmd_with_key(&key, &args));
            ended_by_itself(&output, &format!("{plant}: {args:?}"));
            let err = String::from_utf8_lossy(&output.stderr);
            assert!(
                !output.status.success()
                    && err.contains(&sem.display().to_string())
                    && err.contains("uid 65534")
                    && err.contains("left alone"),
                "{plant}: {args:?}: {err}"
            );
        }
        let meta = std::fs::symlink_metadata(&sem).unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::uid(&meta),
            65534,
            "left alone"
        );
    }
}

/// One's own semaphore file of the wrong size (a crash while glibc made it, a hand-made file):
/// a sentence, never a SIGBUS. Needs no second user.
#[cfg(target_os = "linux")]
#[test]
fn a_qt6_semaphore_file_of_the_wrong_size_is_a_sentence_not_a_sigbus() {
    let scratch = Scratch::new("qt6-short-sem");
    let key = format!("shmimage-short-sem-{}", std::process::id());
    let sem = PathBuf::from(format!("/dev/shm/sem.{key}"));
    // Another file of ours, one semaphore long, that a hard link could give a second name.
    let other = PathBuf::from(format!("/dev/shm/shmimage-other-{key}"));
    let _cleanup = RemoveOnDrop(vec![
        sem.clone(),
        PathBuf::from(format!("/dev/shm/{key}")),
        other.clone(),
    ]);
    std::fs::write(&sem, b"").unwrap();
    let out = scratch.path("out.png");
    let get = || {
        let output =
            run_with_deadline(scratch.cmd_with_key(&key, &["--qt6", "get", out.to_str().unwrap()]));
        ended_by_itself(&output, "get");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let err = get();
    assert!(
        err.contains("it is 0 bytes long, where a semaphore is 32"),
        "{err}"
    );
    std::fs::remove_file(&sem).unwrap();
    std::fs::write(&other, [7u8; 32]).unwrap();
    std::fs::hard_link(&other, &sem).unwrap();
    let err = get();
    assert!(err.contains("it has 2 names"), "{err}");
    assert_eq!(std::fs::read(&other).unwrap(), [7u8; 32]);
}

// 3. A native key's object was read whole, whatever its size.

/// A 1 TiB sparse object made by another user: `get --raw 4x4:rgba8` reads 64 bytes, `info`
/// and `get` without a shape say it is too large, and peak memory stays small.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root: another user makes the object"]
fn a_huge_native_key_object_costs_what_the_image_needs_not_its_size() {
    crate::faults::require_root();
    let scratch = Scratch::new("native-huge");
    let name = format!("shmimage-huge-{}", std::process::id());
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _cleanup = RemoveOnDrop(vec![path.clone()]);
    as_nobody(&format!(
        "truncate -s 1T {p} && chmod 644 {p}",
        p = path.display()
    ));
    let out = scratch.path("out.png");
    let shaped = [
        "get",
        out.to_str().unwrap(),
        "--native-key",
        &name,
        "--raw",
        "4x4:rgba8",
    ];
    let (output, peak_kib) = crate::hardening::run_measuring_peak_memory(scratch.cmd(&shaped));
    ended_by_itself(&output, "get --raw");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(load(&out).dimensions(), (4, 4));
    assert!(peak_kib < 100 * 1024, "peak {peak_kib} KiB");
    for args in [
        vec!["get", out.to_str().unwrap(), "--native-key", &name],
        vec!["info", "--native-key", &name],
    ] {
        let (output, peak_kib) = crate::hardening::run_measuring_peak_memory(scratch.cmd(&args));
        ended_by_itself(&output, &format!("{args:?}"));
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            said.contains("more than any image within the limits needs"),
            "{args:?}: {said}"
        );
        assert!(peak_kib < 100 * 1024, "{args:?}: peak {peak_kib} KiB");
    }
}

/// A link where a native key's object should be is never followed, a FIFO never opened.
#[cfg(target_os = "linux")]
#[test]
fn a_native_key_that_names_a_link_or_a_fifo_is_a_sentence() {
    let scratch = Scratch::new("native-link");
    let name = format!("shmimage-link-{}", std::process::id());
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _cleanup = RemoveOnDrop(vec![path.clone()]);
    let victim = scratch.path("victim");
    std::fs::write(&victim, [9u8; 64]).unwrap();
    let out = scratch.path("out.png");
    for (plant, what) in [(true, "a symbolic link"), (false, "a special file")] {
        let _ = std::fs::remove_file(&path);
        if plant {
            std::os::unix::fs::symlink(&victim, &path).unwrap();
        } else {
            assert!(
                Command::new("mkfifo")
                    .arg(&path)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let args = [
            "get",
            out.to_str().unwrap(),
            "--native-key",
            &name,
            "--raw",
            "4x4:rgba8",
        ];
        let output = run_with_deadline(scratch.cmd(&args));
        ended_by_itself(&output, what);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && err.contains(what),
            "{what}: {err}"
        );
    }
    assert!(!out.exists());
}

// 4. Qt 6 publish deleted any same-user file in /dev/shm that had the key's name.

/// Another program's object at the key's name (Python's `SharedMemory('frames')`), and the key
/// `sem.K`, which names key K's semaphore: both refused, both left alone.
#[cfg(target_os = "linux")]
#[test]
fn a_qt6_publish_replaces_only_a_qt_image_and_never_a_semaphore() {
    let scratch = Scratch::new("qt6-replace");
    let key = format!("shmimage-frames-{}", std::process::id());
    let object = PathBuf::from(format!("/dev/shm/{key}"));
    let _cleanup = RemoveOnDrop(vec![
        object.clone(),
        PathBuf::from(format!("/dev/shm/sem.{key}")),
    ]);
    std::fs::write(&object, b"another program's frame").unwrap();
    let image = test_image(6, 6, 2);
    let input = scratch.save("in.png", &image);
    let err_with_key = {
        let output = run_with_deadline(
            scratch.cmd_with_key(&key, &["--qt6", "put", input.to_str().unwrap()]),
        );
        ended_by_itself(&output, "put over an object");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(
        err_with_key.contains("does not hold an image as Qt writes one"),
        "{err_with_key}"
    );
    assert_eq!(std::fs::read(&object).unwrap(), b"another program's frame");
    std::fs::remove_file(&object).unwrap();

    // A live Qt 6 image under the key, then a publish under `sem.<key>`.
    let mut publish = scratch.cmd_with_key(&key, &["--qt6", "put", input.to_str().unwrap()]);
    publish.env_remove("RUST_LOG");
    let _publisher = Publisher::start(publish, "ready");
    let sem_key = format!("sem.{key}");
    let output = run_with_deadline(
        scratch.cmd_with_key(&sem_key, &["--qt6", "put", input.to_str().unwrap()]),
    );
    ended_by_itself(&output, "put under sem.KEY");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("semaphores' files"), "{err}");
    let out = scratch.path("out.png");
    let got =
        run_with_deadline(scratch.cmd_with_key(&key, &["--qt6", "get", out.to_str().unwrap()]));
    assert!(got.status.success(), "{got:?}");
    assert_eq!(load(&out), image);
}

// 5. An out-of-range `--raw` stride panicked.

#[test]
fn a_raw_stride_that_wraps_is_refused_in_a_sentence() {
    let scratch = Scratch::new("raw-stride");
    let out = scratch.path("out.png");
    for stride in ["9223372036854775808", "18446744073709551615"] {
        let shape = format!("2x3:gray8:{stride}");
        let output = scratch.run(&[
            "get",
            out.to_str().unwrap(),
            "--native-key",
            "anything",
            "--raw",
            &shape,
        ]);
        ended_by_itself(&output, &shape);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains("check the stride"), "{shape}: {err}");
    }
}

/// Follow's thread had no panic boundary: a panic there stopped Follow without a word. Now the
/// callback hears of it once.
#[test]
fn a_panic_on_follows_thread_is_reported_not_silent() {
    let scratch = Scratch::new("follow-panic");
    let input = scratch.save("in.png", &test_image(4, 4, 9));
    let _publisher = scratch.put(&input, &[]);
    let dir = shmimage::protocol::SegmentDir::at(scratch.seg_dir()).unwrap();
    let endpoint = shmimage::protocol::Endpoint::in_dir(&scratch.key, dir);
    let (said, heard) = std::sync::mpsc::channel();
    let _follower = shmimage::protocol::follow(&endpoint, move |followed| match followed {
        Ok(_) => panic!("a bug in a fetch"),
        Err(sentence) => {
            let _ = said.send(sentence);
        }
    })
    .unwrap();
    let sentence = heard.recv_timeout(crate::util::DEADLINE).unwrap();
    assert!(
        sentence.contains("Follow stopped") && sentence.contains("a bug in a fetch"),
        "{sentence}"
    );
}

// 6. Animated PNGs bypassed the palette guard.

/// The still fixture with a palette of 53 bytes, wrapped as a two-frame APNG.
fn apng_with_a_broken_palette() -> Vec<u8> {
    let still = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/png-palette-not-a-multiple-of-3.png"),
    )
    .unwrap();
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
        out
    };
    let mut chunks = Vec::new();
    let mut at = 8;
    while at + 8 <= still.len() {
        let len = u32::from_be_bytes(still[at..at + 4].try_into().unwrap()) as usize;
        chunks.push((
            still[at + 4..at + 8].to_vec(),
            still[at + 8..at + 8 + len].to_vec(),
        ));
        at += 12 + len;
    }
    let (width, height) = (&chunks[0].1[0..4], &chunks[0].1[4..8]);
    let fctl = |seq: u32| {
        let mut data = seq.to_be_bytes().to_vec();
        data.extend_from_slice(width);
        data.extend_from_slice(height);
        data.extend_from_slice(&[0; 8]); // x, y offsets
        data.extend_from_slice(&[0, 1, 0, 10, 0, 0]); // 1/10 s, no dispose, no blend
        data
    };
    let mut apng = still[..8].to_vec();
    let mut idat = Vec::new();
    for (kind, data) in &chunks {
        match kind.as_slice() {
            b"IHDR" => {
                apng.extend(chunk(kind, data));
                apng.extend(chunk(b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0]));
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => {}
            _ => apng.extend(chunk(kind, data)),
        }
    }
    apng.extend(chunk(b"fcTL", &fctl(0)));
    apng.extend(chunk(b"IDAT", &idat));
    apng.extend(chunk(b"fcTL", &fctl(1)));
    let mut fdat = 2u32.to_be_bytes().to_vec();
    fdat.extend_from_slice(&idat);
    apng.extend(chunk(b"fdAT", &fdat));
    apng.extend(chunk(b"IEND", &[]));
    apng
}

#[test]
fn an_animated_png_with_a_broken_palette_gets_the_same_sentence_as_a_still_one() {
    let scratch = Scratch::new("apng-palette");
    let path = scratch.path("broken.png");
    std::fs::write(&path, apng_with_a_broken_palette()).unwrap();
    let err = scratch.fails(&["put", path.to_str().unwrap()]);
    assert!(
        err.contains("is a damaged PNG image") && err.contains("palette has 53 bytes"),
        "{err}"
    );
}

// 7. Save as (in `gui::save`'s unit tests) and `get`'s output followed links.

/// A link planted at `get`'s output (in a folder others can write) is replaced, never written
/// through.
#[cfg(unix)]
#[test]
fn get_never_writes_through_a_link_planted_at_its_output() {
    let scratch = Scratch::new("get-link");
    let image = test_image(5, 4, 4);
    let input = scratch.save("in.png", &image);
    let _publisher = scratch.put(&input, &[]);
    let victim = scratch.path("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let out = scratch.path("out.png");
    std::os::unix::fs::symlink(&victim, &out).unwrap();
    scratch.ok(&["get", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!std::fs::symlink_metadata(&out).unwrap().is_symlink());
    assert_eq!(load(&out), image);
}

// 8. A 108-byte GIF cost 3 GB.

/// A GIF of `frames` 1x1 frames on a `side` x `side` canvas (85 bytes for two).
#[cfg(target_os = "linux")]
fn gif_bomb(side: u16, frames: usize) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&side.to_le_bytes());
    gif.extend_from_slice(&side.to_le_bytes());
    gif.extend_from_slice(&[0x80, 0, 0, 255, 0, 0, 0, 0, 255]);
    gif.extend_from_slice(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00");
    for _ in 0..frames {
        gif.extend_from_slice(b"\x21\xf9\x04\x00\x0a\x00\x00\x00");
        gif.extend_from_slice(b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00");
        gif.extend_from_slice(b"\x02\x02\x44\x01\x00");
    }
    gif.push(0x3b);
    gif
}

#[cfg(target_os = "linux")]
#[test]
fn a_tiny_gif_claiming_a_huge_canvas_is_refused_before_allocating() {
    let scratch = Scratch::new("gif-bomb");
    let path = scratch.path("bomb.gif");
    std::fs::write(&path, gif_bomb(16384, 2)).unwrap();
    let (output, peak_kib) =
        crate::hardening::run_measuring_peak_memory(scratch.cmd(&["put", path.to_str().unwrap()]));
    ended_by_itself(&output, "put bomb.gif");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && err.contains("over the limit of 64 megapixels for animations"),
        "{err}"
    );
    assert!(peak_kib < 100 * 1024, "peak {peak_kib} KiB");
}

// 9. `clean` deleted files that were not ours and changed a folder's mode.

#[cfg(unix)]
#[test]
fn clean_touches_only_our_names_and_never_a_folders_mode() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new("clean-foreign");
    let project = scratch.path("project");
    std::fs::create_dir(&project).unwrap();
    for name in ["Cargo.lock", "yarn.lock", "app.state", "x.g1.seg"] {
        std::fs::write(project.join(name), name).unwrap();
    }
    // Open to others: refused, unchanged.
    std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut clean = Command::new(BIN);
    clean.arg("clean").env("SHMIMAGE_DIR", &project);
    let output = run_with_deadline(clean);
    ended_by_itself(&output, "clean in a 0755 folder");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && err.contains("mode 755"),
        "{err}"
    );
    let mode = std::fs::metadata(&project).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    // Closed (as the user made it): `clean` runs, and removes none of them.
    std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut clean = Command::new(BIN);
    clean.arg("clean").env("SHMIMAGE_DIR", &project);
    let output = run_with_deadline(clean);
    assert!(output.status.success(), "{output:?}");
    for name in ["Cargo.lock", "yarn.lock", "app.state", "x.g1.seg"] {
        assert_eq!(
            std::fs::read_to_string(project.join(name)).unwrap(),
            name,
            "{name}"
        );
    }
}

// 10. Journals and lock files piled up per key; `trace` panicked on a far-future record.

/// 300 `get`s under 300 keys left 900 files in the segment directory. (Unix: Windows never
/// removes lock files, see `shm/lock.rs`; its journals' bound is `journal`'s unit test.)
#[cfg(unix)]
#[test]
fn three_hundred_keys_tried_leave_a_bounded_number_of_files() {
    let scratch = Scratch::new("many-keys");
    let out = scratch.path("out.png");
    for n in 0..300 {
        let output = run_with_deadline(
            scratch.cmd_with_key(&format!("tried-{n}"), &["get", out.to_str().unwrap()]),
        );
        assert!(!output.status.success());
    }
    let files = std::fs::read_dir(scratch.seg_dir()).unwrap().count();
    assert!(files <= 250, "{files} files left for 300 keys");
}

// 11. Float arguments panicked the CLI (and sizes past an image's limits aborted it).

#[test]
fn out_of_range_seconds_and_rates_are_refused_in_a_sentence() {
    let scratch = Scratch::new("floats");
    for args in [
        vec!["stream", "--seconds", "1e300"],
        vec!["stream", "--seconds", "NaN"],
        vec!["stream", "--rate", "0"],
        vec!["bench", "--follow", "--seconds=-1"],
        vec!["bench", "--follow", "--rate", "inf"],
        // Allocated before anything else: 40 GB aborted `bench`, and the OOM killer took `stream`.
        vec!["bench", "--size", "100000x100000"],
        vec!["stream", "--size", "70000x70000"],
    ] {
        let output = scratch.run(&args);
        ended_by_itself(&output, &format!("{args:?}"));
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(" is not a number of ") || err.contains("over the limit of 65535 pixels"),
            "{args:?}: {err}"
        );
    }
}
