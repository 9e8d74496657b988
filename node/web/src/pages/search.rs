//! Finding a matter by what a clerk or citizen types: its code, its Chinese
//! name or any part of it, the initials of its pinyin (`sfz` finds 身份证),
//! its full pinyin, its English name, or a word people use for it that the
//! catalogue lists as a keyword (`低保`, `db`). A query may also skip words
//! of the name: `居住证明` and `jzzm` find 居住情况证明出具, taking the query
//! as runs of at least two characters (most Chinese words have two) that
//! follow each other in the name. Characters with several readings (多音字)
//! match on any of them.

use pinyin::ToPinyinMulti;

use crate::domain::catalogue::Matter;

/// The readings of one character: lowercase plain pinyin, or the character
/// itself (lowercased) when it has none.
fn readings(c: char) -> Vec<String> {
    match c.to_pinyin_multi() {
        Some(multi) => {
            let mut v: Vec<String> = multi.into_iter().map(|p| p.plain().to_owned()).collect();
            v.dedup();
            v
        }
        None => vec![c.to_lowercase().collect()],
    }
}

/// A query is read up to this many characters.
const MAX_QUERY_CHARS: usize = 40;

/// How well a matter answers a query; higher is better, `None` is no match.
pub fn score(m: &Matter, query: &str) -> Option<u32> {
    let q: String = query
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .take(MAX_QUERY_CHARS)
        .collect();
    if q.is_empty() {
        return Some(1);
    }
    let code = m.code.to_lowercase();
    if code == q {
        return Some(100);
    }
    if code.starts_with(&q) || m.basic_code == q {
        return Some(90);
    }
    let name = m.name_zh.to_lowercase();
    if name.starts_with(&q) {
        return Some(80);
    }
    if name.contains(&q) {
        return Some(70);
    }
    let keywords: Vec<String> = m.keywords.iter().map(|k| k.to_lowercase()).collect();
    if keywords.iter().any(|k| k.contains(&q)) {
        return Some(75);
    }
    let qc: Vec<char> = q.chars().collect();
    let syllables = syllables_of(&m.name_zh);
    if !q.is_ascii() {
        let chars: Vec<char> = name.chars().filter(|c| !c.is_whitespace()).collect();
        if runs_match(chars.len(), &qc, |i, c| chars[i] == *c) {
            return Some(55);
        }
        return None;
    }
    if let Some(pos) = initials_match(&syllables, &q) {
        return Some(if pos == 0 { 65 } else { 60 });
    }
    for k in &keywords {
        if initials_match(&syllables_of(k), &q) == Some(0) {
            return Some(62);
        }
    }
    if runs_match(syllables.len(), &qc, |i, c| {
        syllables[i].iter().any(|r| r.starts_with(*c))
    }) {
        return Some(52);
    }
    if full_pinyin_match(&syllables, &q)
        || keywords
            .iter()
            .any(|k| full_pinyin_match(&syllables_of(k), &q))
    {
        return Some(50);
    }
    if code.contains(&q) {
        return Some(40);
    }
    if m.name_en.to_lowercase().contains(&q) {
        return Some(30);
    }
    None
}

/// The readings of each character of a text, spaces left out.
fn syllables_of(text: &str) -> Vec<Vec<String>> {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(readings)
        .collect()
}

/// Whether the query, cut into runs of at least two characters, matches
/// runs of the name in order, with any number of positions skipped between
/// runs (`matches(i, c)`: does position `i` of the name answer `c`).
fn runs_match<T>(len: usize, q: &[T], matches: impl Fn(usize, &T) -> bool) -> bool {
    if q.len() < 2 || q.len() > len {
        return false;
    }
    // Failed (query index, name position) pairs: every pair is tried once.
    let mut failed = std::collections::HashSet::new();
    let mut stack = vec![(0usize, 0usize)];
    while let Some((qi, pos)) = stack.pop() {
        if qi == q.len() {
            return true;
        }
        if !failed.insert((qi, pos)) {
            continue;
        }
        let left = q.len() - qi;
        for start in pos..len {
            // The longest run of the query that matches from `start`.
            let mut n = 0;
            while n < left && start + n < len && matches(start + n, &q[qi + n]) {
                n += 1;
            }
            for run in 2..=n {
                // What is left must be empty or a run of two or more.
                if left - run != 1 {
                    stack.push((qi + run, start + run));
                }
            }
        }
    }
    false
}

/// Where the query matches consecutive initials of the name, if anywhere.
fn initials_match(syllables: &[Vec<String>], q: &str) -> Option<usize> {
    let q: Vec<char> = q.chars().collect();
    if q.len() > syllables.len() {
        return None;
    }
    (0..=syllables.len() - q.len()).find(|&start| {
        q.iter()
            .enumerate()
            .all(|(i, qc)| syllables[start + i].iter().any(|r| r.starts_with(*qc)))
    })
}

/// Whether the query is a run of full syllables (the last may be cut short)
/// starting at some character of the name: `shenfen`, `shenfenz`.
fn full_pinyin_match(syllables: &[Vec<String>], q: &str) -> bool {
    fn from(syllables: &[Vec<String>], q: &str) -> bool {
        if q.is_empty() {
            return true;
        }
        let Some((first, rest)) = syllables.split_first() else {
            return false;
        };
        first.iter().any(|r| {
            if r.len() >= q.len() {
                r.starts_with(q)
            } else {
                q.starts_with(r.as_str()) && from(rest, &q[r.len()..])
            }
        })
    }
    (0..syllables.len()).any(|i| from(&syllables[i..], q))
}

/// Matters answering `query`, best first, at most `limit`.
pub fn find<'a>(
    matters: impl IntoIterator<Item = &'a Matter>,
    query: &str,
    limit: usize,
) -> Vec<&'a Matter> {
    let mut hits: Vec<(u32, &Matter)> = matters
        .into_iter()
        .filter_map(|m| score(m, query).map(|s| (s, m)))
        .collect();
    hits.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.code.cmp(&b.1.code)));
    hits.into_iter().take(limit).map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn matter(code: &str, zh: &str, en: &str) -> Matter {
        let cat = onewindow_domain::starter::catalogue().unwrap();
        let mut m = cat.matters.values().next().unwrap().clone();
        m.code = code.into();
        m.name_zh = zh.into();
        m.name_en = en.into();
        m
    }

    #[test]
    fn initials_find_identity_card_matters() {
        let ms = [
            matter("NH-GA-005", "居民身份证申领", "Identity card"),
            matter("NH-MZ-007", "内地居民结婚登记", "Marriage registration"),
        ];
        let hits = find(&ms, "sfz", 10);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].code, "NH-GA-005");
        assert_eq!(find(&ms, "jmsfz", 10)[0].code, "NH-GA-005");
        assert_eq!(find(&ms, "SFZ", 10)[0].code, "NH-GA-005");
    }

    #[test]
    fn names_codes_pinyin_and_english_match() {
        let ms = [
            matter("NH-GA-005", "居民身份证申领", "Identity card"),
            matter("NH-MZ-007", "内地居民结婚登记", "Marriage registration"),
        ];
        assert_eq!(find(&ms, "结婚", 10)[0].code, "NH-MZ-007");
        assert_eq!(find(&ms, "nh-mz", 10)[0].code, "NH-MZ-007");
        assert_eq!(find(&ms, "jiehun", 10)[0].code, "NH-MZ-007");
        assert_eq!(find(&ms, "shenfenz", 10)[0].code, "NH-GA-005");
        assert_eq!(find(&ms, "marriage", 10)[0].code, "NH-MZ-007");
        assert!(find(&ms, "xyzq", 10).is_empty());
        assert_eq!(find(&ms, "", 10).len(), 2);
    }

    #[test]
    fn skipped_words_and_keywords_match() {
        let mut dibao = matter("NH-MZ-001", "最低生活保障审核确认", "Dibao");
        dibao.keywords = vec!["低保".into()];
        let ms = [
            matter("NH-QT-011", "居住情况证明出具", "Residence certificate"),
            matter("NH-GA-009", "居住证申领", "Residence permit"),
            matter("NH-GA-012", "无犯罪记录证明开具", "No criminal record"),
            dibao,
        ];
        let first = |q: &str| find(&ms, q, 10).first().map(|m| m.code.clone());
        assert_eq!(first("jzzm").as_deref(), Some("NH-QT-011"));
        assert_eq!(first("居住证明").as_deref(), Some("NH-QT-011"));
        assert_eq!(first("无犯罪证明").as_deref(), Some("NH-GA-012"));
        assert_eq!(first("低保").as_deref(), Some("NH-MZ-001"));
        assert_eq!(first("db").as_deref(), Some("NH-MZ-001"));
        assert_eq!(first("dibao").as_deref(), Some("NH-MZ-001"));
        // The runs keep their order and are two characters or more.
        assert!(first("证明居住").is_none());
        assert!(first("zmjz").is_none());
        assert!(find(&ms, "jzm", 10).is_empty());
        // An exact name still ranks above a match with skipped words.
        assert_eq!(first("jzz").as_deref(), Some("NH-GA-009"));
    }

    #[test]
    fn a_long_query_that_almost_matches_ends() {
        // Every (query index, position) pair is tried once, so a query of
        // many runs that fails only at its end does not explode.
        let ms = [matter("X", &"证明".repeat(20), "X")];
        assert!(find(&ms, &("zm".repeat(19) + "xx"), 10).is_empty());
        assert!(find(&ms, &("证明".repeat(19) + "居住"), 10).is_empty());
        assert_eq!(find(&ms, &"zm".repeat(19), 10).len(), 1);
    }

    #[test]
    fn heteronyms_match_either_reading() {
        // 行 reads xing and hang.
        let ms = [matter("X", "银行账户", "Bank account")];
        assert_eq!(find(&ms, "yhzh", 10).len(), 1);
        assert_eq!(find(&ms, "yxzh", 10).len(), 1);
    }

    #[test]
    fn the_starter_catalogue_answers_sfz() {
        let cat = onewindow_domain::starter::catalogue().unwrap();
        let hits = find(cat.matters.values(), "sfz", 50);
        assert!(hits.iter().any(|m| m.name_zh.contains("身份证")));
        assert!(
            hits.iter()
                .all(|m| m.name_zh.contains("身份证") || m.name_zh.chars().count() >= 3)
        );
    }
}
