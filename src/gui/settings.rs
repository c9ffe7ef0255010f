//! What the window remembers between runs (eframe's persistence): the key, the mode, the
//! encoding, Follow, Republish on change, which panels are open, and the language. Step-through is not remembered: a
//! window that starts paused would look broken. The command line wins over what is remembered:
//! `--key K` (other than the default), `--mode`.

use crate::codec::Encoding;
use crate::protocol::Mode;

use super::language::Language;

/// The key under which eframe stores them.
pub const STORAGE_KEY: &str = "shmimage-settings";

/// Stored as plain names, so that a file from another version never fails to load: an unknown
/// value is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    pub key: Option<String>,
    /// `Mode::facts().journal_tag`.
    pub mode: Option<String>,
    pub encoding: Option<String>,
    pub follow: bool,
    pub republish_on_change: bool,
    /// The panels open at exit, by name (`panels::PanelFacts::name`).
    pub open_panels: Vec<String>,
    /// Older versions' way of saying the same; read, never written.
    #[serde(skip_serializing)]
    pub inspector_open: bool,
    #[serde(skip_serializing)]
    pub protocol_open: bool,
    /// A locale code; only set once the user picks a language in the window, so that until then
    /// the window follows the system.
    pub language: Option<String>,
    /// Where the in-window file dialog opens.
    pub last_folder: Option<std::path::PathBuf>,
}

/// What the command line chose, which remembered settings must not override.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommandLineChoices {
    pub key: bool,
    pub mode: bool,
    /// `--follow`: Follow is on from the start.
    pub follow: bool,
}

pub fn mode_named(tag: &str) -> Option<Mode> {
    Mode::ALL
        .into_iter()
        .find(|mode| mode.facts().journal_tag == tag && mode.is_available())
}

pub fn encoding_named(name: &str) -> Option<Encoding> {
    name.parse().ok()
}

pub fn language_named(code: &str) -> Option<Language> {
    Language::ALL.into_iter().find(|l| l.code() == code)
}

/// An eframe storage in memory: what the tests save to and restore from.
#[derive(Default)]
pub struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn flush(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_back_and_unknown_values_are_ignored() {
        let settings = Settings {
            key: Some("共享内存示例".to_owned()),
            mode: Some("qt6".to_owned()),
            encoding: Some("png".to_owned()),
            follow: true,
            republish_on_change: true,
            open_panels: vec!["protocol".to_owned()],
            inspector_open: false,
            protocol_open: false,
            language: Some("zh-CN".to_owned()),
            last_folder: Some("/tmp/图片".into()),
        };
        let mut storage = MemoryStorage::default();
        eframe::set_value(&mut storage, STORAGE_KEY, &settings);
        assert_eq!(
            eframe::get_value::<Settings>(&storage, STORAGE_KEY),
            Some(settings)
        );
        // From an older or newer version: missing fields default, unknown ones are ignored.
        eframe::Storage::set_string(
            &mut storage,
            STORAGE_KEY,
            r#"(key: Some("k"), extra: 1)"#.to_owned(),
        );
        let partial = eframe::get_value::<Settings>(&storage, STORAGE_KEY).unwrap();
        assert_eq!(partial.key.as_deref(), Some("k"));
        assert!(!partial.follow);
        assert_eq!(mode_named("qt9"), None);
        assert_eq!(encoding_named("jpeg2000"), None);
        assert_eq!(language_named("fr"), None);
        assert_eq!(mode_named("n"), Some(Mode::Shmimage));
        assert_eq!(language_named("zh-CN"), Some(Language::Chinese));
    }
}
