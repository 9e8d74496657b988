//! Finding a matter by what a clerk or citizen types: its code, its Chinese
//! name, the initials of its pinyin (`sfz` finds 身份证), its full pinyin, or
//! its English name. Characters with several readings (多音字) match on any
//! of them.

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

/// How well a matter answers a query; higher is better, `None` is no match.
pub fn score(m: &Matter, query: &str) -> Option<u32> {
    let q: String = query
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
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
    let syllables: Vec<Vec<String>> = m
        .name_zh
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(readings)
        .collect();
    if q.is_ascii() {
        if let Some(pos) = initials_match(&syllables, &q) {
            return Some(if pos == 0 { 65 } else { 60 });
        }
        if full_pinyin_match(&syllables, &q) {
            return Some(50);
        }
        if code.contains(&q) {
            return Some(40);
        }
        if m.name_en.to_lowercase().contains(&q) {
            return Some(30);
        }
    }
    None
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
