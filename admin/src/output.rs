//! What people and scripts see: aligned plain-text tables, `field  value`
//! lists, pretty JSON with `--json`, and times in China Standard Time.

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

/// Table output for people, JSON for scripts.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json` was given.
    pub json: bool,
}

impl Output {
    /// Prints a JSON value, pretty.
    pub fn print_json(&self, v: &Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        );
    }
}

pub use onewindow_table::table;

/// A refusal of the command line's own (not the API's): a stable code and
/// a message, printed as `error: code: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coded {
    /// Stable machine code, e.g. `catalogue_invalid`.
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl Coded {
    /// A refusal with this code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Coded {}

/// `field  value` lines, the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<width$}  {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// China Standard Time (UTC+8), in which halls work.
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM` in UTC+8.
pub fn china_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&china())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// An optional time, `-` when absent.
pub fn china_time_opt(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_owned(), china_time)
}

/// `yes` or `no`.
pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// An optional text, `-` when absent or empty.
pub fn or_dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_china() {
        // 2026-11-23 00:30 UTC is 08:30 in China.
        assert_eq!(china_time(1_795_393_800_000), "2026-11-23 08:30");
        assert_eq!(china_time_opt(None), "-");
    }

    #[test]
    fn field_values_are_aligned() {
        assert_eq!(
            fields(&[("a", "1".into()), ("ccc", "2".into())]),
            "a    1\nccc  2"
        );
    }
}
