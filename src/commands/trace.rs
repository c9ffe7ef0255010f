//! `shmimage trace`: the protocol journal of one key, printed live, one line per step of every
//! process (like `strace`), until Ctrl-C.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::protocol::{self, Endpoint, ProcessJournal, Record, State};

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
    /// For a leftover's removal: the dead process whose leftover it was, if its journal says.
    whose: Option<u32>,
}

impl Line<'_> {
    fn text(&self) -> String {
        let owner = &self.lane.owner;
        let record = self.record;
        let outcome = match (record.state, record.duration_us) {
            (State::Paused, _) => "paused (step-through: waiting for Next step)".to_owned(),
            (State::Ok, Some(us)) => format!("ok {}", protocol::human_duration(micros(us))),
            (State::Failed, Some(us)) => {
                format!("failed after {}", protocol::human_duration(micros(us)))
            }
            _ => "running".to_owned(),
        };
        let whose = self
            .whose
            .map_or(String::new(), |pid| format!(" (pid {pid}'s leftover)"));
        format!(
            "{} pid {:<7} {:<6} {:<15} {:<50} = {outcome}  [{}]{whose}",
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
        let whose = self
            .whose
            .map_or(String::new(), |pid| format!(",\"leftover_of\":{pid}"));
        format!(
            "{{\"start_us\":{},\"pid\":{},\"role\":\"{}\",\"key\":{},\"step\":\"{}\",\"qt_call\":{},\"state\":\"{state}\",\"duration_us\":{},\"text\":{}{whose}}}",
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

/// The last microsecond humantime can print (9999-12-31T23:59:59.999999Z): it panics past it.
const LAST_PRINTABLE_US: u64 = 253_402_300_799_999_999;

/// `HH:MM:SS.micro` (UTC), the part of the time that tells steps apart. A record's checksum
/// proves it whole, not sensible: a time past the year 9999 is shown as such, never a panic.
fn time_of_day(start_us: u64) -> String {
    if start_us > LAST_PRINTABLE_US {
        return "(after 9999)".to_owned();
    }
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

/// Forgets what was printed of records no journal holds any more (a ring slot reused, a dead
/// process's journal pruned), so a long trace of a fast stream keeps memory flat: such a record
/// cannot come back to be printed twice.
fn forget_gone(
    lanes: &[ProcessJournal],
    printed: &mut HashSet<(u32, u64, u64, bool)>,
    deaths: &mut HashSet<(u32, u64)>,
) {
    let present: HashSet<(u32, u64, u64)> = lanes
        .iter()
        .flat_map(|lane| {
            let (pid, opened) = (lane.owner.pid, lane.owner.opened_us);
            lane.records.iter().map(move |r| (pid, opened, r.seq))
        })
        .collect();
    printed.retain(|&(pid, opened, seq, _)| present.contains(&(pid, opened, seq)));
    deaths.retain(|&(pid, opened)| {
        lanes
            .iter()
            .any(|lane| (lane.owner.pid, lane.owner.opened_us) == (pid, opened))
    });
}

/// `shmimage trace`: says on stderr what it traces, so that stdout holds only steps (and
/// scripts can tell it has started).
pub(super) fn command(
    cli: &super::Cli,
    options: &TraceOptions,
    out: &mut dyn Write,
) -> Result<(), super::CliError> {
    let endpoint = cli.endpoint()?;
    eprintln!(
        "tracing key {:?} ({}) in {}; Ctrl-C to stop",
        endpoint.key,
        endpoint.mode.facts().name,
        endpoint.dir.path().display()
    );
    run(&endpoint, options, out);
    Ok(())
}

/// Prints the steps of every process under `endpoint`'s key as they happen.
pub fn run(endpoint: &Endpoint, options: &TraceOptions, out: &mut dyn Write) {
    let started = SystemTime::now();
    let from_us = options
        .since
        .map_or(crate::protocol::journal::now_us(), |since| {
            crate::protocol::journal::now_us().saturating_sub(since.as_micros() as u64)
        });
    // (pid, opened, seq, finished?) of what has been printed, and the deaths said.
    let mut printed: HashSet<(u32, u64, u64, bool)> = HashSet::new();
    let mut deaths: HashSet<(u32, u64)> = HashSet::new();
    // Processes seen alive by this trace: a death after that is news, however long ago their
    // last step was (a writer killed while idle).
    let mut seen_alive: HashSet<(u32, u64)> = HashSet::new();
    loop {
        let lanes = protocol::journal(endpoint);
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
                let whose = (record.step == protocol::Step::RemoveLeftover)
                    .then(|| protocol::whose_leftover(&lanes, &record.text))
                    .flatten();
                let line = Line {
                    lane,
                    record,
                    whose,
                };
                let text = if options.json {
                    line.json()
                } else {
                    line.text()
                };
                lines.push((record.start_us, text));
            }
            if lane.alive {
                seen_alive.insert(owner);
            }
            let last_us = lane.records.last().map_or(0, |r| r.start_us);
            if let Some(death) = protocol::describe_death(lane)
                && (seen_alive.contains(&owner) || last_us >= from_us)
                && deaths.insert(owner)
            {
                // A death in a step is dated by that step; one while idle, by when it was seen.
                let at = if lane.died_during().is_some() {
                    last_us
                } else {
                    crate::protocol::journal::now_us()
                };
                let text = if options.json {
                    format!(
                        "{{\"start_us\":{at},\"pid\":{},\"role\":\"{}\",\"died\":{}}}",
                        owner.0,
                        lane.owner.role.name(),
                        json_string(&death.english())
                    )
                } else {
                    format!("{} {death}", time_of_day(at))
                };
                lines.push((at, text));
            }
        }
        forget_gone(&lanes, &mut printed, &mut deaths);
        seen_alive.retain(|owner| {
            deaths.contains(owner)
                || lanes
                    .iter()
                    .any(|l| (l.owner.pid, l.owner.opened_us) == *owner)
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A checksummed record may still carry any time: past the year 9999 humantime panicked.
    #[test]
    fn a_time_past_the_year_9999_is_said_not_a_panic() {
        assert_eq!(time_of_day(1_700_000_000_123_456), "22:13:20.123456");
        assert_eq!(time_of_day(LAST_PRINTABLE_US), "23:59:59.999999");
        assert_eq!(time_of_day(LAST_PRINTABLE_US + 1), "(after 9999)");
        assert_eq!(time_of_day(u64::MAX), "(after 9999)");
    }

    /// What was printed of records gone from every journal is forgotten: the set grew by a
    /// record a millisecond against a 1 kHz stream.
    #[test]
    fn what_was_printed_of_gone_records_is_forgotten() {
        let record = |seq| Record {
            seq,
            step: crate::protocol::journal::Step::CopyOut,
            state: State::Ok,
            start_us: 1_700_000_000_000_000,
            duration_us: Some(1),
            text: String::new(),
        };
        let lane = ProcessJournal {
            owner: crate::protocol::journal::Owner {
                pid: 7,
                role: crate::protocol::journal::Role::Get,
                qt: false,
                key: "k".to_owned(),
                opened_us: 1,
            },
            alive: true,
            records: vec![record(5), record(6)],
        };
        let mut printed: HashSet<_> = (1..=6).map(|seq| (7, 1, seq, true)).collect();
        let mut deaths: HashSet<_> = [(7, 1), (8, 1)].into_iter().collect();
        forget_gone(std::slice::from_ref(&lane), &mut printed, &mut deaths);
        let mut left: Vec<u64> = printed.iter().map(|p| p.2).collect();
        left.sort();
        assert_eq!(left, [5, 6]);
        assert_eq!(deaths.into_iter().collect::<Vec<_>>(), [(7, 1)]);
    }
}
