//! Sentences that the command line prints in English and the window shows in its own language:
//! `check`'s observations, the lessons' findings, a dead process's last words.
//!
//! A sentence keeps its English template (with `%{name}` holes) and its values until it is
//! shown. The template is also the key that `locales/app.yml` translates. Values are sentences
//! too. A number, a path or another program's words are shown as they are, and a nested
//! template is translated in its turn. So "1 leftover after the kill; get: says nothing is
//! shared" becomes Chinese around the child's English error, which is quoted, not the window's
//! text.

use std::fmt;

/// An English template with its values, or text shown as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sentence(Said);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Said {
    Template {
        english: &'static str,
        values: Vec<(&'static str, Sentence)>,
    },
    AsIs(String),
    Joined {
        parts: Vec<Sentence>,
        separator: Separator,
    },
}

impl Default for Said {
    fn default() -> Self {
        Self::AsIs(String::new())
    }
}

/// What goes between the parts of a list: each language has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// Between clauses: "; " in English, "；" in Chinese.
    Clauses,
    /// Between the items of a list: ", " in English, "、" in Chinese.
    Items,
}

impl Separator {
    pub const ALL: [Self; 2] = [Self::Clauses, Self::Items];

    /// The English separator, which is also its key in `locales/app.yml`.
    pub fn english(self) -> &'static str {
        match self {
            Self::Clauses => "; ",
            Self::Items => ", ",
        }
    }
}

/// A sentence from an English template (a string literal with `%{name}` holes), then `name =
/// value` for each hole. Each value is anything [`Sentence`] converts from: numbers and strings are shown as
/// they are, and a `sentence!` is translated too. The template must be a literal, so that a
/// test finds every one and checks its translation.
macro_rules! sentence {
    ($english:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::sentence::Sentence::template(
            $english,
            vec![$((stringify!($name), $crate::sentence::Sentence::from($value))),*],
        )
    };
}
pub(crate) use sentence;

impl Sentence {
    /// Use [`sentence!`], which checks nothing here but lets a test find the template.
    #[doc(hidden)]
    pub fn template(english: &'static str, values: Vec<(&'static str, Sentence)>) -> Self {
        Self(Said::Template { english, values })
    }

    /// A fixed term, translated as a whole: a protocol step's name ("copy in"). Its
    /// translation is checked where the terms are listed (the steps' in `protocol::step`).
    pub fn term(english: &'static str) -> Self {
        Self::template(english, Vec::new())
    }

    /// Text that is shown as it is, in every language: another program's words, a name.
    pub fn as_is(text: impl Into<String>) -> Self {
        Self(Said::AsIs(text.into()))
    }

    /// `parts`, with `separator` between them.
    pub fn joined(parts: Vec<Sentence>, separator: Separator) -> Self {
        Self(Said::Joined { parts, separator })
    }

    /// Whether this sentence was made from the same template as `other` (values aside).
    pub fn same_template(&self, other: &Sentence) -> bool {
        match (&self.0, &other.0) {
            (Said::Template { english: a, .. }, Said::Template { english: b, .. }) => a == b,
            _ => false,
        }
    }

    /// The sentence in English: what the command line prints and `--json` saves.
    pub fn english(&self) -> String {
        self.render(&|english| english.to_owned())
    }

    /// The sentence in `locale` ("en", "zh-CN"); a template without a translation stays
    /// English.
    pub fn in_language(&self, locale: &str) -> String {
        self.render(&|english| rust_i18n::t!(english, locale = locale).into_owned())
    }

    /// The sentence in the language the window is set to.
    pub fn in_current_language(&self) -> String {
        self.in_language(&rust_i18n::locale())
    }

    fn render(&self, translate: &dyn Fn(&'static str) -> String) -> String {
        match &self.0 {
            Said::AsIs(text) => text.clone(),
            Said::Joined { parts, separator } => parts
                .iter()
                .map(|part| part.render(translate))
                .collect::<Vec<_>>()
                .join(&translate(separator.english())),
            Said::Template { english, values } => fill(&translate(english), |name| {
                values
                    .iter()
                    .find(|(hole, _)| *hole == name)
                    .map(|(_, value)| value.render(translate))
            }),
        }
    }
}

/// `template` with each `%{name}` replaced by `value(name)`, in one pass, so that a value that
/// happens to hold `%{…}` is left as it is. A hole without a value stays, to be seen.
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("%{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after
            .find('}')
            .and_then(|end| Some((end, value(&after[..end])?)))
        {
            Some((end, text)) => {
                out.push_str(&text);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("%{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// English, for logs and the command line.
impl fmt::Display for Sentence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.english())
    }
}

impl From<String> for Sentence {
    fn from(text: String) -> Self {
        Self::as_is(text)
    }
}

impl From<&str> for Sentence {
    fn from(text: &str) -> Self {
        Self::as_is(text)
    }
}

impl From<&String> for Sentence {
    fn from(text: &String) -> Self {
        Self::as_is(text.as_str())
    }
}

macro_rules! shown_as_they_are {
    ($($number:ty),*) => {
        $(impl From<$number> for Sentence {
            fn from(number: $number) -> Self {
                Self::as_is(number.to_string())
            }
        })*
    };
}
shown_as_they_are!(u8, u16, u32, u64, u128, usize, i32, i64);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    #[test]
    fn values_fill_their_holes_and_nested_templates_are_translated_too() {
        let inner = sentence!("works");
        let said = sentence!(
            "after the kill, Qt's create: %{create}; %{left} left",
            create = inner.clone(),
            left = 1u32
        );
        assert_eq!(said.english(), "after the kill, Qt's create: works; 1 left");
        let translated = said.render(&|english| match english {
            "works" => "成功".to_owned(),
            _ => "杀死后 %{left} 个残留；create：%{create}".to_owned(),
        });
        assert_eq!(translated, "杀死后 1 个残留；create：成功");
        let quoted = sentence!("get: %{error}", error = "says %{x} is %{y}");
        assert_eq!(quoted.english(), "get: says %{x} is %{y}");
        assert_eq!(fill("a %{missing} b %{", |_| None), "a %{missing} b %{");
        let list = Sentence::joined(
            vec![sentence!("works"), Sentence::as_is("x")],
            Separator::Clauses,
        );
        assert_eq!(list.english(), "works; x");
        assert!(said.same_template(&sentence!(
            "after the kill, Qt's create: %{create}; %{left} left",
            create = "",
            left = ""
        )));
        assert!(!said.same_template(&inner));
    }

    /// Every template in the source has its Chinese, with the same holes: the window shows
    /// them all, and a hole missing in a translation would drop a value.
    #[test]
    fn every_sentence_has_its_chinese_with_the_same_holes() {
        let mut templates = BTreeSet::new();
        collect(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut templates,
        );
        assert!(
            templates.len() > 50,
            "found only {} templates",
            templates.len()
        );
        let separators = Separator::ALL.map(Separator::english);
        let all = templates.iter().map(String::as_str);
        for english in all.chain(separators) {
            let chinese = rust_i18n::t!(english, locale = "zh-CN");
            assert_ne!(chinese, english, "no zh-CN for {english:?}");
            assert_eq!(holes(&chinese), holes(english), "holes of {english:?}");
        }
    }

    fn holes(text: &str) -> BTreeSet<&str> {
        text.split("%{")
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(name, _)| name))
            .collect()
    }

    /// The literal of every `sentence!(` under `dir`, unescaped as Rust reads it.
    fn collect(dir: &Path, templates: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, templates);
                continue;
            }
            // This file's own tests make sentences of their own, which nothing shows.
            if path.extension().is_none_or(|ext| ext != "rs") || path.ends_with("sentence.rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for (at, call) in source.match_indices("sentence!(") {
                let after = source[at + call.len()..].trim_start();
                if let Some(literal) = after.strip_prefix('"') {
                    templates.insert(unescape(literal));
                }
            }
        }
    }

    /// A string literal's text up to its closing quote: `\"`, `\\` and a line continuation.
    fn unescape(literal: &str) -> String {
        let mut out = String::new();
        let mut chars = literal.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('\n') => {
                        while chars.peek().is_some_and(|c| c.is_whitespace()) {
                            chars.next();
                        }
                    }
                    Some('n') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        out
    }
}
