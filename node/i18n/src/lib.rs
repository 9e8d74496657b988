//! Every word OneWindow shows a person, in Chinese and English, by key.
//!
//! One mechanism for the pages, the printed documents and the errors of the
//! API: code names a phrase by key (`nav.clerk`, `doc.receipt.accepted`,
//! `err.unknown_matter`) and fills its `{name}` slots; this crate holds the
//! text. A key that is missing shows as itself. Tests check that every key
//! has both languages with the same slots, and each crate checks that every
//! key its code asks for is here ([`check::keys_asked_in`]).
//!
//! Keys by first segment:
//! - page words (`nav.`, `col.`, `supervisor.`, `state.`, ...): [`pages`];
//! - `doc.`: the printed documents ([`documents`]);
//! - `err.<code>` and `err.<code>.<variant>`: the message of the error with
//!   that stable machine code; `action.`: what a role may not do
//!   ([`errors`]);
//! - `flash.`: the one-line outcome shown after a form ([`errors`]).

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub mod documents;
pub mod errors;
pub mod pages;

/// A reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Chinese (the default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }

    /// Picks the text in this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }
}

/// A text in both languages: what an error or a printed line carries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Text {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Text {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        lang.pick(&self.zh, &self.en)
    }

    /// Both languages in one line, `中文 / English`: for text stored in a
    /// case's history, which every reader of any language sees.
    pub fn joined(&self) -> String {
        format!("{} / {}", self.zh, self.en)
    }
}

/// A value for a slot: the same in both languages, or a phrase of its own.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    /// A value written the same way in both languages (a number, a code).
    Plain(&'a dyn Display),
    /// A phrase key, filled in each language with that language's phrase.
    Phrase(&'a str),
    /// Bilingual data (a matter's names): the Chinese and the English.
    Each(&'a str, &'a str),
}

/// The table: `(key, Chinese, English)` rows of every part.
fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static T: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    T.get_or_init(|| all_rows().map(|(k, zh, en)| (*k, (*zh, *en))).collect())
}

fn all_rows() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    pages::PHRASES
        .iter()
        .chain(documents::PHRASES)
        .chain(errors::PHRASES)
}

/// Whether the table has `key`.
pub fn has(key: &str) -> bool {
    table().contains_key(key)
}

/// The phrase for `key` in `lang`, if the table has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    table().get(key).map(|(zh, en)| lang.pick(zh, en))
}

/// The phrase for `key` in `lang`, or the key itself if there is none.
pub fn phrase(lang: Lang, key: &str) -> &str {
    match table().get(key) {
        Some((zh, en)) => lang.pick(zh, en),
        None => key,
    }
}

/// The phrase for `key` in `lang` with each `{name}` slot filled from
/// `args`.
pub fn phrase_with(lang: Lang, key: &str, args: &[(&str, &dyn Display)]) -> String {
    fill(
        phrase(lang, key),
        args.iter().map(|(n, v)| (*n, v.to_string())),
    )
}

/// The phrase for `key` in `lang`, slots filled from `args`, of which a
/// [`Arg::Phrase`] is itself put in `lang`.
pub fn phrase_args(lang: Lang, key: &str, args: &[(&str, Arg<'_>)]) -> String {
    fill(
        phrase(lang, key),
        args.iter().map(|(n, v)| {
            let value = match v {
                Arg::Plain(d) => d.to_string(),
                Arg::Phrase(k) => phrase(lang, k).to_owned(),
                Arg::Each(zh, en) => lang.pick(zh, en).to_owned(),
            };
            (*n, value)
        }),
    )
}

/// The phrase for `key` in both languages, slots filled.
pub fn text(key: &str, args: &[(&str, &dyn Display)]) -> Text {
    Text {
        zh: phrase_with(Lang::Zh, key, args),
        en: phrase_with(Lang::En, key, args),
    }
}

/// The phrase for `key` in both languages, with slots that may be phrases.
pub fn text_args(key: &str, args: &[(&str, Arg<'_>)]) -> Text {
    Text {
        zh: phrase_args(Lang::Zh, key, args),
        en: phrase_args(Lang::En, key, args),
    }
}

fn fill<'a>(template: &str, args: impl Iterator<Item = (&'a str, String)>) -> String {
    let mut text = template.to_owned();
    for (name, value) in args {
        text = text.replace(&format!("{{{name}}}"), &value);
    }
    text
}

/// For the tests of the crates that ask for phrases.
pub mod check {
    use std::path::Path;

    /// Every string literal in the Rust files under `dir` (recursively)
    /// that starts with one of `prefixes` and looks like a key
    /// (`a-z0-9_.` only): the keys the code asks for by name.
    pub fn keys_asked_in(dir: &Path, prefixes: &[&str]) -> Vec<String> {
        let mut keys = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let src = std::fs::read_to_string(&p).unwrap_or_default();
                    keys.extend(literals(&src).filter(|l| {
                        prefixes.iter().any(|pre| l.starts_with(pre))
                            && l.len() > 2
                            && l.bytes().all(|b| {
                                b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.".contains(&b)
                            })
                            && !l.ends_with('.')
                    }));
                }
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    fn literals(src: &str) -> impl Iterator<Item = String> + '_ {
        src.split('"').skip(1).step_by(2).map(str::to_owned)
    }

    /// The keys of `keys` that the table does not have.
    pub fn missing(keys: &[String]) -> Vec<String> {
        keys.iter().filter(|k| !super::has(k)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `{name}` slots of a phrase, sorted.
    fn slots(text: &str) -> Vec<&str> {
        let mut out: Vec<&str> = text
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(name, _)| name))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn keys_are_unique_and_both_languages_are_filled_with_the_same_slots() {
        let mut seen = std::collections::HashSet::new();
        let mut n = 0;
        for (k, zh, en) in all_rows() {
            assert!(seen.insert(*k), "duplicate phrase key {k}");
            assert!(
                !zh.trim().is_empty() && !en.trim().is_empty(),
                "{k} is empty"
            );
            assert_eq!(slots(zh), slots(en), "{k} has other slots in zh and en");
            n += 1;
        }
        assert!(n > 400, "the table has {n} phrases");
    }

    #[test]
    fn a_missing_key_shows_as_itself_and_slots_are_filled() {
        assert_eq!(phrase(Lang::En, "missing.key"), "missing.key");
        assert!(!has("missing.key"));
        assert_eq!(
            phrase_with(
                Lang::En,
                "supervisor.scope_below",
                &[("id", &"nanhai.guicheng")]
            ),
            "nanhai.guicheng and the halls below"
        );
        let t = text_args("err.wrong_role", &[("what", Arg::Phrase("action.accept"))]);
        assert!(t.zh.contains("受理申请"), "{}", t.zh);
        assert!(t.en.contains("accept applications"), "{}", t.en);
    }

    #[test]
    fn the_scan_finds_keys_in_literals() {
        let dir = std::env::temp_dir().join(format!("ow-i18n-scan-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.join("sub/a.rs"),
            "let a = phrase(\"nav.clerk\"); let b = \"err.nope\"; let c = \"Err. not a key\";",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let keys = check::keys_asked_in(&dir, &["err.", "nav."]);
        assert_eq!(keys, vec!["err.nope".to_owned(), "nav.clerk".to_owned()]);
        assert_eq!(check::missing(&keys), vec!["err.nope".to_owned()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
