//! Helpers for tests that run the real `shmimage` binary in separate processes: each test gets
//! its own segment directory and key, every wait has a deadline, and a failure shows the
//! command with its status, stdout and stderr.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use image::RgbaImage;

pub const BIN: &str = env!("CARGO_BIN_EXE_shmimage");
/// Generous: a slow CI machine must never make a correct program fail.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A private segment directory plus a folder for images, removed when dropped.
pub struct Scratch {
    pub tmp: tempfile::TempDir,
    pub key: String,
}

impl Scratch {
    pub fn new(test_name: &str) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("shmimage-test-")
            .tempdir()
            .expect("temp dir");
        Self {
            tmp,
            key: format!("{test_name}-{}", std::process::id()),
        }
    }

    pub fn seg_dir(&self) -> PathBuf {
        self.tmp.path().join("segments")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `shmimage ARGS --key KEY` with this scratch's segment directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_with_key(&self.key, args)
    }

    /// Like [`cmd`](Self::cmd) with another key.
    pub fn cmd_with_key(&self, key: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--key")
            .arg(key)
            .env("SHMIMAGE_DIR", self.seg_dir())
            .env_remove("RUST_LOG");
        cmd
    }

    /// Runs to completion (with a deadline) and returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        run_with_deadline(self.cmd(args))
    }

    /// Runs and insists on success.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "{}", describe(args, &output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs and insists on failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "expected failure\n{}",
            describe(args, &output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(stderr.starts_with("error: "), "{}", describe(args, &output));
        assert!(!stderr.contains("panicked"), "{}", describe(args, &output));
        stderr
    }

    /// Starts `shmimage put IMAGE …` and waits for its `ready` line.
    pub fn put(&self, image: &Path, extra: &[&str]) -> Publisher {
        let mut args = vec!["put", image.to_str().expect("utf-8 path")];
        args.extend_from_slice(extra);
        Publisher::start(self.cmd(&args), "ready")
    }

    pub fn save(&self, name: &str, image: &RgbaImage) -> PathBuf {
        let path = self.path(name);
        image.save(&path).expect("save test image");
        path
    }

    /// Segment files currently in the directory.
    pub fn segment_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.seg_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect();
        files.sort();
        files
    }
}

/// A running `put` (or any process whose readiness is one stdout line).
pub struct Publisher {
    pub child: Child,
    pub first_line: String,
    lines: mpsc::Receiver<String>,
}

impl Publisher {
    /// Spawns `cmd` and waits until a stdout or stderr line contains `marker`.
    pub fn start(mut cmd: Command, marker: &str) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn shmimage");
        let (tx, lines) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut seen = Vec::new();
        loop {
            match lines.recv_timeout(DEADLINE) {
                Ok(line) if line.contains(marker) => {
                    return Self {
                        child,
                        first_line: line,
                        lines,
                    };
                }
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!(
                        "no line with {marker:?} within {DEADLINE:?}; status {status:?}; output:\n{}",
                        seen.join("\n")
                    );
                }
            }
        }
    }

    /// SIGKILL (TerminateProcess on Windows): the process gets no chance to clean up.
    pub fn kill_hard(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }

    /// Asks politely (SIGTERM) and waits for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        #[cfg(unix)]
        {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status()
                .expect("kill -TERM");
            assert!(status.success());
        }
        #[cfg(not(unix))]
        self.child.kill().expect("kill");
        wait_with_deadline(&mut self.child)
    }

    pub fn wait(mut self) -> std::process::ExitStatus {
        wait_with_deadline(&mut self.child)
    }

    /// Waits (with the deadline) for an output line that contains `marker`, and returns it.
    pub fn wait_for(&self, marker: &str) -> String {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(DEADLINE) {
                Ok(line) if line.contains(marker) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!(
                    "no line with {marker:?} within {DEADLINE:?}; output:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    /// Remaining output lines seen so far.
    pub fn drain(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_with_deadline(child: &mut Child) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("process {} still running after {DEADLINE:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn run_with_deadline(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shmimage");
    // Read both pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut buf);
        buf
    });
    let status = wait_with_deadline(&mut child);
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

pub fn describe(args: &[&str], output: &Output) -> String {
    format!(
        "command: shmimage {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A picture whose every pixel depends on its position and on `seed`, so any mix of two images
/// (a torn copy) differs from both.
/// One `get OUT` by a reader that must never accept a torn image: true if it fetched one of
/// `images` whole, false if nothing was shared. Any other image or error fails the test.
pub fn get_one_of(scratch: &Scratch, out: &Path, images: &[RgbaImage], who: &str) -> bool {
    let _ = std::fs::remove_file(out);
    let args = ["get", out.to_str().expect("utf-8 path")];
    let output = run_with_deadline(scratch.cmd(&args));
    if output.status.success() {
        assert!(
            images.contains(&load(out)),
            "{who} accepted an image that no writer published whole"
        );
        return true;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("nothing is shared"),
        "{who}: {}",
        describe(&args, &output)
    );
    false
}

pub fn test_image(width: u32, height: u32, seed: u8) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([
            (x as u8).wrapping_add(seed),
            (y as u8).wrapping_mul(3).wrapping_add(seed),
            seed,
            255u8.wrapping_sub((x ^ y) as u8),
        ])
    })
}

pub fn load(path: &Path) -> RgbaImage {
    image::open(path).expect("open fetched image").into_rgba8()
}

/// The Python of the venv `scripts/check.sh` makes (PySide6 for Qt 6, NumPy for the video
/// example): `SHMIMAGE_PYSIDE6_PYTHON`, else `${XDG_CACHE_HOME:-$HOME/.cache}/shmimage/pyside6`.
pub fn venv_python() -> String {
    if let Some(python) = std::env::var_os("SHMIMAGE_PYSIDE6_PYTHON") {
        return python.to_string_lossy().into_owned();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    cache
        .join("shmimage/pyside6/bin/python")
        .to_string_lossy()
        .into_owned()
}
