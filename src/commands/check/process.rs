//! The check's child processes: started and registered under one lock, so Ctrl-C can end
//! every one of them and remove what the run made; every wait has a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::protocol::SegmentDir;

/// How long any one step may take before the row fails (never a hang).
pub(super) const STEP: Duration = Duration::from_secs(20);

/// What Ctrl-C must not leave behind: the children running now, and this run's directory and
/// work folder. Once `interrupted`, no new child is started.
#[derive(Clone, Default)]
struct Running {
    children: Vec<u32>,
    run: Option<(SegmentDir, PathBuf)>,
    interrupted: bool,
}

static RUNNING: std::sync::Mutex<Running> = std::sync::Mutex::new(Running {
    children: Vec::new(),
    run: None,
    interrupted: false,
});

/// Starts a child and registers it, under the same lock `interrupt` takes: so the handler
/// either sees the child (and kills it) or the child is never started.
fn spawn_registered(command: &mut Command) -> Result<Child, String> {
    let mut running = running();
    if running.interrupted {
        return Err("the check was interrupted".to_owned());
    }
    let child = command
        .spawn()
        .map_err(|err| format!("cannot start shmimage: {err}"))?;
    running.children.push(child.id());
    Ok(child)
}

fn unregister(pid: u32) {
    running().children.retain(|p| *p != pid);
}

/// Held while the check itself (not a child) works on Qt's objects: Ctrl-C's cleanup waits for
/// it, so the process never exits halfway through making Qt's key files.
static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Call `work` on Qt's objects, or on throw-away files and objects, in this process, never
/// interrupted halfway by Ctrl-C's cleanup.
pub(super) fn in_process<T>(work: impl FnOnce() -> T) -> T {
    let _held = IN_PROCESS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    work()
}

/// For a Ctrl-C or SIGTERM handler: ends this run's children, removes what the run made, and
/// exits with `code`.
pub fn interrupt(code: i32) -> ! {
    let running = {
        let mut running = running();
        running.interrupted = true;
        running.clone()
    };
    for pid in running.children {
        kill_pid(pid);
    }
    // Kept until the exit: the rows' own work on Qt's objects stops here, whole.
    let _no_more = IN_PROCESS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((dir, work)) = running.run {
        // A killed child holds its segment's lock until it has really exited, and until then
        // its segment is live, not a leftover: clean again until nothing of ours is left.
        let deadline = Instant::now() + Duration::from_secs(3);
        while !super::clean_keys(&dir, &work) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&work);
    }
    std::process::exit(code)
}

fn running() -> std::sync::MutexGuard<'static, Running> {
    RUNNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(unix)]
fn kill_pid(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

#[cfg(windows)]
fn kill_pid(pid: u32) {
    let _ = crate::child::command("taskkill")
        .args(["/F", "/PID", &pid.to_string()])
        .status();
}

/// Records the run Ctrl-C must clean up (`None` once it has cleaned up itself).
pub(super) fn set_run(run: Option<(SegmentDir, PathBuf)>) {
    running().run = run;
}

/// A running child whose output lines arrive on a channel, killed when dropped. Its stdin is a
/// pipe: the attached reader takes requests there, and ends when it closes.
pub(super) struct Spawned {
    pub(super) child: Child,
    lines: mpsc::Receiver<String>,
    /// The line that contained the marker `start` waited for.
    pub(super) ready_line: String,
}

impl Spawned {
    /// Starts `command` and waits until a line contains `marker`.
    pub(super) fn start(mut command: Command, marker: &str) -> Result<Self, String> {
        let mut child = spawn_registered(
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let (sender, lines) = mpsc::channel();
        let streams: [Option<Box<dyn std::io::Read + Send>>; 2] = [
            child.stdout.take().map(|s| Box::new(s) as _),
            child.stderr.take().map(|s| Box::new(s) as _),
        ];
        for stream in streams.into_iter().flatten() {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut spawned = Self {
            child,
            lines,
            ready_line: String::new(),
        };
        spawned.ready_line = spawned.wait_for(marker)?;
        Ok(spawned)
    }

    pub(super) fn wait_for(&mut self, marker: &str) -> Result<String, String> {
        self.wait_within(marker, STEP)
    }

    /// Waits at most `limit` for a line that contains `marker`.
    pub(super) fn wait_within(&mut self, marker: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(marker) {
                return Ok(line);
            }
            seen.push(line);
        }
        Err(format!(
            "no \"{marker}\" from pid {} ({})",
            self.child.id(),
            seen.last().map_or("no output", String::as_str)
        ))
    }

    /// Writes `line` to the child's stdin.
    pub(super) fn say(&mut self, line: &str) -> Result<(), String> {
        let id = self.child.id();
        self.child
            .stdin
            .as_mut()
            .map_or(Err(std::io::ErrorKind::BrokenPipe.into()), |stdin| {
                writeln!(stdin, "{line}").and_then(|()| stdin.flush())
            })
            .map_err(|err| format!("cannot tell pid {id} \"{line}\": {err}"))
    }

    /// Closes the child's stdin, which tells a child that shares until then to end, and waits
    /// for it to end by itself.
    pub(super) fn finish(mut self) -> Result<(), String> {
        drop(self.child.stdin.take());
        self.wait()
    }

    /// SIGKILL / TerminateProcess: no chance to clean up.
    pub(super) fn kill(mut self) -> Result<(), String> {
        self.child
            .kill()
            .and_then(|()| self.child.wait())
            .map(drop)
            .map_err(|err| format!("cannot kill pid {}: {err}", self.child.id()))
    }

    /// Waits for the child to exit by itself (at most [`STEP`]; then drop kills it).
    pub(super) fn wait(mut self) -> Result<(), String> {
        match exit_within(&mut self.child, STEP) {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(format!("pid {} ended with {status}", self.child.id())),
            None => Err(format!("pid {} did not end", self.child.id())),
        }
    }
}

/// How long a child whose stdin was closed may take to end by itself before it is killed.
const END_WITHIN: Duration = Duration::from_secs(1);

impl Drop for Spawned {
    /// Closes the child's stdin, which ends every child the check starts the way it ends when
    /// left alone (it detaches, and its journal says so), and kills it if it is still there
    /// after [`END_WITHIN`]. A lesson shows what its processes did: one killed here would
    /// show as a crash that never happened.
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if exit_within(&mut self.child, END_WITHIN).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        unregister(self.child.id());
    }
}

/// The child's exit status, if it exits within `limit`.
fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}

/// Runs a command to the end, at most [`STEP`] (then it is killed, and that is the error).
pub(super) fn run_bounded(mut command: Command) -> Result<std::process::Output, String> {
    let mut child = spawn_registered(command.stdout(Stdio::piped()).stderr(Stdio::piped()))?;
    let collect = |stream: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = collect(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = collect(child.stderr.take().map(|s| Box::new(s) as _));
    let Some(status) = exit_within(&mut child, STEP) else {
        let _ = child.kill();
        let _ = child.wait();
        unregister(child.id());
        return Err(format!("pid {} did not finish within {STEP:?}", child.id()));
    };
    unregister(child.id());
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

pub(super) fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("(no output)")
        .trim_start_matches("error: ")
        .to_owned()
}
