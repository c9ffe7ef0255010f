//! What a set of journals says: who holds the lock, who is paused in step-through, and where a
//! dead process died.

use std::path::Path;

use super::{ProcessJournal, State, Step, read};
use crate::sentence::{Sentence, sentence};

impl ProcessJournal {
    /// Whether the process holds the key's lock now. A dead process holds nothing: the OS
    /// freed its lock.
    pub fn holds_lock(&self) -> bool {
        self.alive && self.last_step_left_the_lock_held()
    }

    /// Whether, by its records, the lock was held after the last one: a lock-taking step
    /// succeeded and no unlock (or detach, which follows a failed copy's silent unlock) has
    /// finished since.
    fn last_step_left_the_lock_held(&self) -> bool {
        let mut held = false;
        for record in self.records.iter().filter(|r| r.state == State::Ok) {
            if record.step.takes_lock() {
                held = true;
            }
            if matches!(record.step, Step::Unlock | Step::Detach) {
                held = false;
            }
        }
        held
    }

    /// The step this process is paused before (step-through), if it is.
    pub fn paused_before(&self) -> Option<Step> {
        let last = self.records.last()?;
        (self.alive && last.state == State::Paused).then_some(last.step)
    }

    /// The step a dead process was in when it died, if it died in one.
    pub fn died_during(&self) -> Option<Step> {
        let last = self.records.last()?;
        (!self.alive && matches!(last.state, State::Running | State::Paused)).then_some(last.step)
    }
}

/// What a dead process's journal says of its death, once: where it died (in a step, or idle
/// after its last one), and what it left. "pid 4711 died during copy in; the OS freed its
/// lock"; "pid 4711 died without detach; its segment g1 stays until the next writer removes
/// it". `None` for a process that exited cleanly (its last step a finished detach) or left no
/// record.
pub fn describe_death(journal: &ProcessJournal) -> Option<Sentence> {
    if journal.alive {
        return None;
    }
    let pid = journal.owner.pid;
    if let Some(step) = journal.died_during() {
        let step = Sentence::term(step.name());
        return Some(if journal.last_step_left_the_lock_held() {
            sentence!(
                "pid %{pid} died during %{step}; the OS freed its lock",
                pid = pid,
                step = step
            )
        } else {
            sentence!("pid %{pid} died during %{step}", pid = pid, step = step)
        });
    }
    let segment = journal.segment_left()?;
    Some(if journal.owner.qt {
        sentence!(
            "pid %{pid} died without detach; its segment %{segment} stays until the next writer removes it (Qt's own example leaves it for good on Linux, and its next create fails)",
            pid = pid,
            segment = segment
        )
    } else {
        sentence!(
            "pid %{pid} died without detach; its segment %{segment} stays until the next writer removes it",
            pid = pid,
            segment = segment
        )
    })
}

impl ProcessJournal {
    /// The segment this process wrote and never detached from, as its copies named it (`g1`,
    /// or `shmid 42`): what a writer killed while idle leaves.
    fn segment_left(&self) -> Option<String> {
        let mut left = None;
        for record in self.records.iter().filter(|r| r.state == State::Ok) {
            match record.step {
                Step::CopyIn => left = Some(segment_named(&record.text)),
                Step::Detach => left = None,
                _ => {}
            }
        }
        left
    }
}

/// The segment a copy's record names: "345664 bytes of /dev/shm/…/k_….g1.seg" is `g1`, and
/// "… of System V segment shmid 42" is `shmid 42`.
fn segment_named(copy: &str) -> String {
    let object = copy
        .split_once(" bytes of ")
        .map_or(copy, |(_, object)| object);
    if let Some(generation) = object
        .strip_suffix(".seg")
        .and_then(|stem| stem.rsplit_once(".g"))
        .map(|(_, generation)| generation)
    {
        return format!("g{generation}");
    }
    object
        .strip_prefix("System V segment ")
        .unwrap_or(object)
        .to_owned()
}

/// Whose leftover a removal took (its record's text names the file or the pid): the dead
/// process whose copies wrote that file. Qt's notes name the pid themselves.
pub fn whose_leftover(journals: &[ProcessJournal], removal: &str) -> Option<u32> {
    journals
        .iter()
        .filter(|journal| !journal.alive)
        .find(|journal| {
            journal.records.iter().any(|record| {
                record.step == Step::CopyIn
                    && record
                        .text
                        .split_once(" bytes of ")
                        .is_some_and(|(_, path)| removal.contains(path))
            })
        })
        .map(|journal| journal.owner.pid)
}

/// Another live process that holds the key's lock while paused in step-through, if any: a
/// waiter should then wait for it rather than time out.
pub fn stepping_holder(dir: &Path, native_key: &str, mode: &str) -> Option<u32> {
    let own = std::process::id();
    read(dir, native_key, mode)
        .into_iter()
        .find(|j| j.owner.pid != own && j.holds_lock() && j.paused_before().is_some())
        .map(|j| j.owner.pid)
}

#[cfg(test)]
mod tests {
    use super::super::{Owner, Record, Role};
    use super::*;

    fn record(seq: u64, step: Step, state: State) -> Record {
        Record {
            seq,
            step,
            state,
            start_us: seq * 10,
            duration_us: Some(1),
            text: String::new(),
        }
    }

    fn journal(alive: bool, records: Vec<Record>) -> ProcessJournal {
        ProcessJournal {
            owner: Owner {
                pid: 4711,
                role: Role::Put,
                qt: false,
                key: "k".to_owned(),
                opened_us: 0,
            },
            alive,
            records,
        }
    }

    #[test]
    fn a_writer_killed_mid_copy_died_during_copy_and_its_lock_was_freed() {
        let dead = journal(
            false,
            vec![
                record(1, Step::Create, State::Ok),
                record(2, Step::CopyIn, State::Running),
            ],
        );
        assert!(!dead.holds_lock());
        assert_eq!(
            describe_death(&dead).map(|said| said.english()).as_deref(),
            Some("pid 4711 died during copy in; the OS freed its lock")
        );
        let finished = journal(
            false,
            vec![
                record(1, Step::Attach, State::Ok),
                record(2, Step::Detach, State::Ok),
            ],
        );
        assert_eq!(describe_death(&finished), None);
    }

    /// The article's case: a writer killed while idle, holding its segment, is named with its
    /// pid, its segment, and whose leftover the next writer removed.
    #[test]
    fn a_writer_killed_while_idle_is_named_with_what_it_left() {
        let mut copy = record(3, Step::CopyIn, State::Ok);
        copy.text = "345664 bytes of /dev/shm/shmimage-0/k_ab12.g1.seg".to_owned();
        let killed = journal(
            false,
            vec![
                record(1, Step::Create, State::Ok),
                record(2, Step::Lock, State::Ok),
                copy,
                record(4, Step::Unlock, State::Ok),
            ],
        );
        assert_eq!(
            describe_death(&killed)
                .map(|said| said.english())
                .as_deref(),
            Some(
                "pid 4711 died without detach; its segment g1 stays until the next writer removes it"
            )
        );
        let removal = "removed the leftover of a dead process (nobody held it): /dev/shm/shmimage-0/k_ab12.g1.seg";
        assert_eq!(
            whose_leftover(std::slice::from_ref(&killed), removal),
            Some(4711)
        );
        assert_eq!(whose_leftover(std::slice::from_ref(&killed), "other"), None);
        let mut qt = killed.clone();
        qt.owner.qt = true;
        qt.records[2].text = "168 bytes of System V segment shmid 42".to_owned();
        let said = describe_death(&qt).unwrap().english();
        assert!(
            said.starts_with("pid 4711 died without detach; its segment shmid 42 stays"),
            "{said}"
        );
        assert!(said.contains("Qt's own example leaves it"), "{said}");
        let mut alive = killed;
        alive.alive = true;
        assert_eq!(describe_death(&alive), None);
    }

    #[test]
    fn a_paused_holder_holds_the_lock_until_its_unlock_finishes() {
        let mut paused = journal(
            true,
            vec![
                record(1, Step::Attach, State::Ok),
                record(2, Step::Lock, State::Ok),
                record(3, Step::CopyOut, State::Ok),
                record(4, Step::Unlock, State::Paused),
            ],
        );
        assert!(paused.holds_lock());
        assert_eq!(paused.paused_before(), Some(Step::Unlock));
        paused.records[3].state = State::Ok;
        assert!(!paused.holds_lock());
        assert_eq!(paused.paused_before(), None);
    }
}
