//! The journal's bytes: a file header, then a ring of fixed-size step records, each with its own
//! checksum so that a torn or damaged record is ignored rather than trusted.

use crate::protocol::step::Step;

/// `shmimage-journal` and the format version.
pub(super) const MAGIC: [u8; 16] = *b"shmimage-jrnl-01";
pub(super) const HEADER_LEN: usize = 128;
pub(super) const RECORD_LEN: usize = 256;
/// Steps kept per process and key: a publish or a fetch takes about six.
pub(super) const SLOTS: usize = 64;
pub(super) const FILE_LEN: usize = HEADER_LEN + SLOTS * RECORD_LEN;
const KEY_LEN: usize = 96;
const TEXT_LEN: usize = RECORD_LEN - 32 - 4;
/// `duration_us` of a step that has not finished.
const UNFINISHED: u64 = u64::MAX;

/// Who took the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Window,
    Put,
    Get,
    Bench,
    Check,
    Other,
}

impl Role {
    const ALL: [Role; 6] = [
        Role::Window,
        Role::Put,
        Role::Get,
        Role::Bench,
        Role::Check,
        Role::Other,
    ];

    /// Every journal this process opens from now on says it is this.
    pub fn set_for_this_process(self) {
        super::set_role(self);
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Window => "window",
            Role::Put => "put",
            Role::Get => "get",
            Role::Bench => "bench",
            Role::Check => "check",
            Role::Other => "process",
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Step-through: waiting for "Next step" before it starts.
    Paused,
    Running,
    Ok,
    Failed,
}

impl State {
    const ALL: [State; 4] = [State::Paused, State::Running, State::Ok, State::Failed];
}

/// One step as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Grows by one per step in this process's journal; never 0.
    pub seq: u64,
    pub step: Step,
    pub state: State,
    /// Wall-clock start, microseconds since the Unix epoch (so processes line up).
    pub start_us: u64,
    /// `None` while the step runs (or is paused).
    pub duration_us: Option<u64>,
    /// The OS object it touched, how long it waited and for whom, or the error.
    pub text: String,
}

fn index_of<T: PartialEq>(all: &[T], item: &T) -> u8 {
    all.iter().position(|x| x == item).unwrap_or(0) as u8
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// The longest prefix of `text` that fits `len` bytes without cutting a character.
fn truncated(text: &str, len: usize) -> &str {
    let mut end = text.len().min(len);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Record {
    pub(super) fn to_bytes(&self) -> [u8; RECORD_LEN] {
        let mut bytes = [0u8; RECORD_LEN];
        bytes[0..8].copy_from_slice(&self.seq.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.start_us.to_le_bytes());
        let duration = self.duration_us.unwrap_or(UNFINISHED);
        bytes[16..24].copy_from_slice(&duration.to_le_bytes());
        bytes[24] = index_of(&Step::ALL, &self.step);
        bytes[25] = index_of(&State::ALL, &self.state);
        let text = truncated(&self.text, TEXT_LEN);
        bytes[26..28].copy_from_slice(&(text.len() as u16).to_le_bytes());
        bytes[32..32 + text.len()].copy_from_slice(text.as_bytes());
        let crc = crc32fast::hash(&bytes[..RECORD_LEN - 4]);
        bytes[RECORD_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// `None` for an empty slot, a torn write, or anything else that does not check out.
    pub(super) fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != RECORD_LEN
            || crc32fast::hash(&bytes[..RECORD_LEN - 4]) != u32_at(bytes, RECORD_LEN - 4)
        {
            return None;
        }
        let seq = u64_at(bytes, 0);
        let step = *Step::ALL.get(usize::from(bytes[24]))?;
        let state = *State::ALL.get(usize::from(bytes[25]))?;
        let text_len = usize::from(u16::from_le_bytes([bytes[26], bytes[27]]));
        if seq == 0 || text_len > TEXT_LEN {
            return None;
        }
        let text = std::str::from_utf8(&bytes[32..32 + text_len])
            .ok()?
            .to_owned();
        let duration = u64_at(bytes, 16);
        Some(Self {
            seq,
            step,
            state,
            start_us: u64_at(bytes, 8),
            duration_us: (duration != UNFINISHED).then_some(duration),
            text,
        })
    }
}

/// Who writes a journal file, and for which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub role: Role,
    /// Qt's rules (the lock is a semaphore): names the Qt calls accordingly.
    pub qt: bool,
    /// The key as the user wrote it, cut to fit.
    pub key: String,
    /// When the process opened the journal, microseconds since the Unix epoch.
    pub opened_us: u64,
}

impl Owner {
    pub(super) fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..16].copy_from_slice(&MAGIC);
        bytes[16..20].copy_from_slice(&self.pid.to_le_bytes());
        bytes[20] = index_of(&Role::ALL, &self.role);
        bytes[21] = u8::from(self.qt);
        let key = truncated(&self.key, KEY_LEN);
        bytes[22] = key.len() as u8;
        bytes[24..32].copy_from_slice(&self.opened_us.to_le_bytes());
        bytes[32..32 + key.len()].copy_from_slice(key.as_bytes());
        bytes
    }

    pub(super) fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < HEADER_LEN || bytes[0..16] != MAGIC {
            return None;
        }
        let key_len = usize::from(bytes[22]);
        if key_len > KEY_LEN {
            return None;
        }
        Some(Self {
            pid: u32_at(bytes, 16),
            role: *Role::ALL.get(usize::from(bytes[20]))?,
            qt: bytes[21] != 0,
            key: std::str::from_utf8(&bytes[32..32 + key_len])
                .ok()?
                .to_owned(),
            opened_us: u64_at(bytes, 24),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            seq: 7,
            step: Step::CopyOut,
            state: State::Ok,
            start_us: 1_700_000_000_000_000,
            duration_us: Some(1234),
            text: "共享内存 /dev/shm/shmimage-0/x.g1.seg".to_owned(),
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        assert_eq!(Record::parse(&record().to_bytes()), Some(record()));
        let running = Record {
            duration_us: None,
            state: State::Running,
            ..record()
        };
        assert_eq!(Record::parse(&running.to_bytes()), Some(running));
    }

    #[test]
    fn a_damaged_or_empty_record_is_ignored() {
        let mut bytes = record().to_bytes();
        bytes[40] ^= 1;
        assert_eq!(Record::parse(&bytes), None);
        assert_eq!(Record::parse(&[0u8; RECORD_LEN]), None);
        assert_eq!(Record::parse(&[0xffu8; RECORD_LEN]), None);
        assert_eq!(Record::parse(&bytes[..10]), None);
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let long = Record {
            text: "键".repeat(200),
            ..record()
        };
        let parsed = Record::parse(&long.to_bytes()).unwrap();
        assert!(parsed.text.len() <= TEXT_LEN && parsed.text.chars().all(|c| c == '键'));
    }

    #[test]
    fn an_owner_reads_back_and_garbage_does_not() {
        let owner = Owner {
            pid: 4711,
            role: Role::Put,
            qt: true,
            key: "共享内存示例".to_owned(),
            opened_us: 99,
        };
        assert_eq!(Owner::parse(&owner.to_bytes()), Some(owner));
        assert_eq!(Owner::parse(&[0x5au8; HEADER_LEN]), None);
    }
}
