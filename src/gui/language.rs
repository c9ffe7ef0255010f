//! The window's language: English, or Simplified Chinese for the readers of the article this
//! project comes from. Texts are looked up by their English wording (`locales/app.yml`, compiled
//! in by rust-i18n), so a text nobody has translated yet still shows, in English. The language
//! follows the system's (`LANG` and friends on Linux, the user's setting on Windows and macOS)
//! and can be changed in the window. It is one setting for the whole process: one window per
//! process is the demo. The command line stays in English.

/// The translation of an English text (with `%{name}` patterns filled in), as a `String`.
macro_rules! tr {
    ($($all:tt)*) => {
        rust_i18n::t!($($all)*).into_owned()
    };
}
pub(crate) use tr;

use crate::platform::Os;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    English,
    Chinese,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::English, Language::Chinese];

    /// The locale code in `locales/app.yml`.
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Chinese => "zh-CN",
        }
    }

    /// Its own name, as a person who reads it looks for it.
    pub fn name(self) -> &'static str {
        match self {
            Language::English => "English",
            Language::Chinese => "简体中文",
        }
    }

    /// `zh-CN`, `zh_CN.UTF-8`, `zh-Hans-CN`, `zh`: Chinese; anything else: English.
    pub fn from_locale(locale: &str) -> Self {
        if locale.trim().to_ascii_lowercase().starts_with("zh") {
            Language::Chinese
        } else {
            Language::English
        }
    }

    /// The system's language. On Unix the environment decides, as for every other program
    /// (`LC_ALL`, then `LC_MESSAGES`, then `LANG`); elsewhere the user's setting.
    pub fn of_system() -> Self {
        Self::chosen(
            Os::current(),
            |variable| std::env::var(variable).ok(),
            sys_locale::get_locale,
        )
    }

    /// The language from the locale variables (`env`) and the system's setting (`system`), in
    /// `os`'s order. Linux: the variables first, which is where a desktop session says it. macOS:
    /// the system first, since Terminal sets `LANG` from the region, not the language. Windows:
    /// the system alone.
    fn chosen(
        os: Os,
        env: impl Fn(&str) -> Option<String>,
        system: impl FnOnce() -> Option<String>,
    ) -> Self {
        let variables = || {
            ["LC_ALL", "LC_MESSAGES", "LANG"]
                .into_iter()
                .find_map(|variable| env(variable).filter(|value| !value.is_empty()))
        };
        let locale = match os {
            Os::Linux => variables().or_else(system),
            Os::MacOs => system().or_else(variables),
            Os::Windows => system(),
        };
        locale.map_or(Language::English, |locale| Self::from_locale(&locale))
    }

    /// Makes every text from now on this language's.
    pub fn apply(self) {
        rust_i18n::set_locale(self.code());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Mac whose language is Chinese, in a Terminal that set LANG from an English region.
    #[test]
    fn each_os_asks_where_its_language_is_set() {
        let env = |variable: &str| (variable == "LANG").then(|| "en_GB.UTF-8".to_owned());
        let chinese = || Some("zh-Hans-CN".to_owned());
        assert_eq!(Language::chosen(Os::MacOs, env, chinese), Language::Chinese);
        assert_eq!(Language::chosen(Os::Linux, env, chinese), Language::English);
        assert_eq!(
            Language::chosen(Os::Windows, env, chinese),
            Language::Chinese
        );
        let none = |_: &str| None;
        assert_eq!(
            Language::chosen(Os::Linux, none, chinese),
            Language::Chinese
        );
        assert_eq!(Language::chosen(Os::MacOs, env, || None), Language::English);
    }

    #[test]
    fn locales_are_read_the_way_people_write_them() {
        for chinese in ["zh_CN.UTF-8", "zh-CN", "zh-Hans-CN", "zh", "ZH_cn"] {
            assert_eq!(
                Language::from_locale(chinese),
                Language::Chinese,
                "{chinese}"
            );
        }
        for other in ["en_US.UTF-8", "C", "POSIX", "de-DE", ""] {
            assert_eq!(Language::from_locale(other), Language::English, "{other}");
        }
    }

    #[test]
    fn every_text_has_a_chinese_translation_and_english_is_the_text_itself() {
        // Not through set_locale: tests run in parallel, and the locale is process-wide.
        assert_eq!(
            rust_i18n::t!("Load image from file", locale = "zh-CN"),
            "从文件加载图像"
        );
        assert_eq!(
            rust_i18n::t!("Load image from file", locale = "en"),
            "Load image from file"
        );
        assert_eq!(rust_i18n::t!("Ready.", locale = "zh-CN"), "就绪。");
        let shared = rust_i18n::t!(
            "Shared %{file} under key \"%{key}\" (generation %{generation}); press \"%{button}\" in another window.%{note}",
            locale = "zh-CN",
            file = "样例.png",
            key = "k",
            generation = 3,
            button = "B",
            note = ""
        );
        assert!(
            shared.contains("样例.png") && shared.contains("3"),
            "{shared}"
        );
    }

    /// Every text the window passes to `tr!`, as a literal or as a `const` of the crate, has a
    /// zh-CN entry: a new English text without one would show in English in a Chinese window.
    #[test]
    fn every_text_of_the_window_has_a_chinese_entry() {
        let sources = rust_sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        let all = sources.concat();
        let mut missing = Vec::new();
        let mut checked = 0;
        for source in &sources {
            for call in source.split(concat!("tr", "!(")).skip(1) {
                let call = call.trim_start();
                let text = if call.starts_with('"') {
                    string_literal(call)
                } else {
                    let name: String = call
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                        .collect();
                    if name.is_empty() {
                        continue; // a runtime string (a Qt message chosen elsewhere)
                    }
                    let Some(at) = all.find(&format!("const {name}: &str =")) else {
                        panic!("no const {name}");
                    };
                    string_literal(all[at..].split_once('=').unwrap().1.trim_start())
                };
                checked += 1;
                if crate::_rust_i18n_try_translate("zh-CN", &text).is_none() {
                    missing.push(text);
                }
            }
        }
        assert!(
            checked > 100,
            "only {checked} texts found: the scan is broken"
        );
        assert!(
            missing.is_empty(),
            "no zh-CN entry in locales/app.yml for {missing:#?}"
        );
    }

    fn rust_sources(dir: &std::path::Path) -> Vec<String> {
        let mut sources = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources.extend(rust_sources(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push(std::fs::read_to_string(&path).unwrap());
            }
        }
        sources
    }

    /// The value of the Rust string literal that `code` starts with (the escapes the window's
    /// texts use: quotes, backslashes, and line continuations).
    fn string_literal(code: &str) -> String {
        let mut text = String::new();
        let mut chars = code.chars().skip(1).peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => return text,
                '\\' => match chars.next() {
                    Some('n') => text.push('\n'),
                    Some('\n') => while chars.next_if(|c| c.is_whitespace()).is_some() {},
                    Some(other) => text.push(other),
                    None => break,
                },
                c => text.push(c),
            }
        }
        panic!("unterminated literal: {code:.40}")
    }
}
