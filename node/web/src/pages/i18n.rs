//! The pages' words come from the one phrase table of `onewindow-i18n`,
//! shared with the printed documents and the errors. Here: the pages' view
//! of it, and a test that every key the pages ask for is there.

#[cfg(test)]
pub use onewindow_i18n::has;
pub use onewindow_i18n::{phrase, phrase_with};

#[cfg(test)]
mod tests {
    use super::*;
    use onewindow_i18n::Lang;

    #[test]
    fn every_stored_name_has_a_label() {
        use crate::domain::case::State;
        for s in [
            State::Received,
            State::Correction,
            State::Rejected,
            State::Accepted,
            State::Handling,
            State::Review,
            State::Approval,
            State::Decided,
            State::ResultReady,
            State::Completed,
            State::Withdrawn,
            State::Terminated,
        ] {
            assert!(has(&format!("state.{}", s.as_str())), "{s:?}");
            assert_eq!(
                phrase(Lang::Zh, &format!("state.{}", s.as_str())),
                s.label_zh()
            );
        }
        assert_eq!(phrase(Lang::En, "missing.key"), "missing.key");
    }

    /// Every key the pages' code asks for (`phrase("..")`, `phrases(&[..])`,
    /// `phrase_with("..", ..)`) is in the table, in both languages.
    #[test]
    fn every_key_the_code_asks_for_is_here() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut asked = Vec::new();
        let mut sources = Vec::new();
        for f in std::fs::read_dir(dir.join("pages")).unwrap_or_else(|e| panic!("{e}")) {
            let p = f.unwrap_or_else(|e| panic!("{e}")).path();
            if p.ends_with("i18n.rs") {
                continue; // this test's own examples
            }
            sources.push(std::fs::read_to_string(p).unwrap_or_default());
        }
        for src in &sources {
            for (open, close) in [("phrase(\"", "\""), ("phrase_with(\"", "\"")] {
                for part in src.split(open).skip(1) {
                    asked.extend(part.split(close).next().map(str::to_owned));
                }
            }
            for part in src.split("phrases(&[").skip(1) {
                let list = part.split(']').next().unwrap_or("");
                asked.extend(
                    list.split(',')
                        .map(|k| k.trim().trim_matches('"').to_owned())
                        .filter(|k| !k.is_empty()),
                );
            }
        }
        // Keys made with format!: the deadline lists'.
        for level in ["red", "yellow"] {
            asked.push(format!("supervisor.{level}"));
            asked.push(format!("supervisor.{level}_empty"));
        }
        assert!(asked.len() > 60, "the scan found the keys: {asked:?}");
        // Keys named in any literal: errors, actions, documents, flashes.
        let named =
            onewindow_i18n::check::keys_asked_in(&dir, &["err.", "action.", "doc.", "flash."]);
        assert!(named.len() > 10, "the scan found the keys: {named:?}");
        asked.extend(named);
        for k in &asked {
            assert!(
                has(k),
                "the code asks for phrase {k:?}, which is not in PHRASES"
            );
        }
    }
}
