//! `shmimage trace`: the protocol journal of one key, printed live, one line per step of every
//! process (like `strace`), until Ctrl-C.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::share::{self, Endpoint, ProcessJournal, Record, State};

/// How often the journals are read again: well inside a frame of a person watching.
const POLL: Duration = Duration::from_millis(50);

/// What is printed and from when.
pub struct TraceOptions {
    pub json: bool,
    /// Show steps that started this long before now first; `None`: only new ones.
    pub since: Option<Duration>,
    /// Stop after this long (for scripts and tests); `None`: until Ctrl-C.
    pub stop_after: Option<Duration>,
}

/// One step, worded for a line or a JSON object.
struct Line<'a> {
    lane: &'a ProcessJournal,
    record: &'a Record,
}

impl Line<'_> {
    fn text(&self) -> String {
        let owner = &self.lane.owner;
        let record = self.record;
        let outcome = match (record.state, record.duration_us) {
            (State::Paused, _) => "paused (step-through: waiting for Next step)".to_owned(),
            (State::Ok, Some(us)) => format!("ok {}", share::human_duration(micros(us))),
            (State::Failed, Some(us)) => {
                format!("failed after {}", share::human_duration(micros(us)))
            }
            _ => "running".to_owned(),
        };
        format!(
            "{} pid {:<7} {:<6} {:<15} {:<50} = {outcome}  [{}]",
            time_of_day(record.start_us),
            owner.pid,
            owner.role.name(),
            record.step.name(),
            record.step.qt_call(owner.qt),
            record.text
        )
    }

    fn json(&self) -> String {
        let owner = &self.lane.owner;
        let record = self.record;
        let state = match record.state {
            State::Paused => "paused",
            State::Running => "running",
            State::Ok => "ok",
            State::Failed => "failed",
        };
        format!(
            "{{\"start_us\":{},\"pid\":{},\"role\":\"{}\",\"key\":{},\"step\":\"{}\",\"qt_call\":{},\"state\":\"{state}\",\"duration_us\":{},\"text\":{}}}",
            record.start_us,
            owner.pid,
            owner.role.name(),
            json_string(&owner.key),
            record.step.name(),
            json_string(record.step.qt_call(owner.qt)),
            record
                .duration_us
                .map_or("null".to_owned(), |us| us.to_string()),
            json_string(&record.text)
        )
    }
}

fn micros(us: u64) -> Duration {
    Duration::from_micros(us)
}

/// `HH:MM:SS.micro` (UTC), the part of the time that tells steps apart.
fn time_of_day(start_us: u64) -> String {
    let time = UNIX_EPOCH + Duration::from_micros(start_us);
    let stamp = humantime::format_rfc3339_micros(time).to_string();
    stamp.split_once('T').map_or(stamp.clone(), |(_, time)| {
        time.trim_end_matches('Z').to_owned()
    })
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prints the steps of every process under `endpoint`'s key as they happen.
pub fn run(endpoint: &Endpoint, options: &TraceOptions, out: &mut dyn Write) {
    let started = SystemTime::now();
    let from_us = options.since.map_or(crate::journal::now_us(), |since| {
        crate::journal::now_us().saturating_sub(since.as_micros() as u64)
    });
    // (pid, opened, seq, finished?) of what has been printed, and the deaths said.
    let mut printed: HashSet<(u32, u64, u64, bool)> = HashSet::new();
    let mut deaths: HashSet<(u32, u64)> = HashSet::new();
    loop {
        let lanes = share::journal(endpoint);
        let mut lines: Vec<(u64, String)> = Vec::new();
        for lane in &lanes {
            let owner = (lane.owner.pid, lane.owner.opened_us);
            for record in &lane.records {
                let finished = matches!(record.state, State::Ok | State::Failed);
                let worth = finished || record.state == State::Paused;
                if record.start_us < from_us
                    || !worth
                    || !printed.insert((owner.0, owner.1, record.seq, finished))
                {
                    continue;
                }
                let line = Line { lane, record };
                let text = if options.json {
                    line.json()
                } else {
                    line.text()
                };
                lines.push((record.start_us, text));
            }
            if let Some(death) = share::describe_death(lane)
                && deaths.insert(owner)
                && lane.records.last().is_some_and(|r| r.start_us >= from_us)
            {
                let at = lane.records.last().map_or(0, |r| r.start_us);
                let text = if options.json {
                    format!(
                        "{{\"start_us\":{at},\"pid\":{},\"role\":\"{}\",\"died\":{}}}",
                        owner.0,
                        lane.owner.role.name(),
                        json_string(&death)
                    )
                } else {
                    format!("{} {death}", time_of_day(at))
                };
                lines.push((at, text));
            }
        }
        lines.sort_by_key(|(at, _)| *at);
        for (_, line) in lines {
            if writeln!(out, "{line}").is_err() {
                return;
            }
        }
        let _ = out.flush();
        if options
            .stop_after
            .is_some_and(|stop| started.elapsed().unwrap_or_default() >= stop)
        {
            return;
        }
        std::thread::sleep(POLL);
    }
}
