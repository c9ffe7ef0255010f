//! What a set of journals says: who holds the lock, who is paused in step-through, and where a
//! dead process died.

use std::path::Path;

use super::{ProcessJournal, State, Step, read};

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

/// "pid 4711 died during copy in; the OS freed its lock", for a process that died in a step.
pub fn describe_death(journal: &ProcessJournal) -> Option<String> {
    let step = journal.died_during()?;
    let freed = if journal.last_step_left_the_lock_held() {
        "; the OS freed its lock"
    } else {
        ""
    };
    Some(format!(
        "pid {} died during {}{freed}",
        journal.owner.pid,
        step.name()
    ))
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
            describe_death(&dead).as_deref(),
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
