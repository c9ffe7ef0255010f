//! The article's steps, each named after the Qt call it is: what the journal records, `trace`
//! prints and the Protocol panel draws.

/// One step of the protocol, named after the Qt call it corresponds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Encode,
    Create,
    Attach,
    Lock,
    CopyIn,
    CopyOut,
    Unlock,
    Detach,
    RemoveLeftover,
    Decode,
}

impl Step {
    /// In the order of their codes in the journal's records (never reordered).
    pub(crate) const ALL: [Step; 10] = [
        Step::Encode,
        Step::Create,
        Step::Attach,
        Step::Lock,
        Step::CopyIn,
        Step::CopyOut,
        Step::Unlock,
        Step::Detach,
        Step::RemoveLeftover,
        Step::Decode,
    ];

    /// Short name for lines and bars.
    pub fn name(self) -> &'static str {
        match self {
            Step::Encode => "encode",
            Step::Create => "create",
            Step::Attach => "attach",
            Step::Lock => "lock",
            Step::CopyIn => "copy in",
            Step::CopyOut => "copy out",
            Step::Unlock => "unlock",
            Step::Detach => "detach",
            Step::RemoveLeftover => "remove leftover",
            Step::Decode => "decode",
        }
    }

    /// The Qt call this step is, in Qt's example (`qt` for Qt's own modes, whose lock is a
    /// `QSystemSemaphore`).
    pub fn qt_call(self, qt: bool) -> &'static str {
        match (self, qt) {
            (Step::Encode, _) => "QBuffer + QDataStream << QImage",
            (Step::Create, false) => "QSharedMemory::create(size), then lock()",
            (Step::Create, true) => {
                "QSharedMemory::create(size), then lock() (QSystemSemaphore::acquire())"
            }
            (Step::Attach, _) => "QSharedMemory::attach()",
            (Step::Lock, false) => "QSharedMemory::lock()",
            (Step::Lock, true) => "QSharedMemory::lock() → QSystemSemaphore::acquire()",
            (Step::CopyIn, _) => "QSharedMemory::data() + memcpy",
            (Step::CopyOut, _) => "QSharedMemory::constData() + memcpy",
            (Step::Unlock, false) => "QSharedMemory::unlock()",
            (Step::Unlock, true) => "QSharedMemory::unlock() → QSystemSemaphore::release()",
            (Step::Detach, _) => "QSharedMemory::detach()",
            (Step::RemoveLeftover, _) => "(no Qt call: Qt leaves a crashed writer's segment)",
            (Step::Decode, _) => "QDataStream >> QImage",
        }
    }

    /// Steps that may wait for the key's lock (a create or attach takes it to look around).
    pub fn waits_for_lock(self) -> bool {
        matches!(self, Step::Create | Step::Attach | Step::Lock)
    }

    /// Whether the lock is held once this step has succeeded.
    pub fn takes_lock(self) -> bool {
        matches!(self, Step::Create | Step::Lock)
    }

    /// Steps that touch shared memory or its lock (the rest are this process's own work).
    pub fn is_ipc(self) -> bool {
        !matches!(self, Step::Encode | Step::Decode)
    }
}

#[cfg(test)]
mod tests {
    use super::Step;

    /// A step's name is a term the window translates, in its lanes and in a death's sentence.
    #[test]
    fn every_step_name_has_its_chinese() {
        for step in Step::ALL {
            let chinese = rust_i18n::t!(step.name(), locale = "zh-CN");
            assert_ne!(chinese, step.name(), "no zh-CN for {:?}", step.name());
        }
    }
}
