//! The page templates, embedded in the binary, and the functions they call:
//! `t(key)` (the phrase table in [`super::i18n`]), `tr(zh, en)` (pick by
//! language), `bi("中文 / English")` (split catalogue text written in both),
//! and date, duration and label helpers.

use minijinja::{Environment, State, Value};
use std::sync::OnceLock;

use super::i18n;
use super::web::Lang;

/// Every page template: name and text.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/pages/base.html")),
    (
        "macros.html",
        include_str!("../../templates/pages/macros.html"),
    ),
    (
        "error.html",
        include_str!("../../templates/pages/error.html"),
    ),
    (
        "login.html",
        include_str!("../../templates/pages/login.html"),
    ),
    (
        "admin.html",
        include_str!("../../templates/pages/admin.html"),
    ),
    (
        "clerk/home.html",
        include_str!("../../templates/pages/clerk/home.html"),
    ),
    (
        "clerk/apply.html",
        include_str!("../../templates/pages/clerk/apply.html"),
    ),
    (
        "clerk/case.html",
        include_str!("../../templates/pages/clerk/case.html"),
    ),
    (
        "clerk/rate.html",
        include_str!("../../templates/pages/clerk/rate.html"),
    ),
    (
        "approver/queue.html",
        include_str!("../../templates/pages/approver/queue.html"),
    ),
    (
        "approver/case.html",
        include_str!("../../templates/pages/approver/case.html"),
    ),
    (
        "supervisor/overview.html",
        include_str!("../../templates/pages/supervisor/overview.html"),
    ),
    (
        "supervisor/search.html",
        include_str!("../../templates/pages/supervisor/search.html"),
    ),
    (
        "supervisor/stats.html",
        include_str!("../../templates/pages/supervisor/stats.html"),
    ),
    (
        "supervisor/fleet.html",
        include_str!("../../templates/pages/supervisor/fleet.html"),
    ),
    (
        "supervisor/case.html",
        include_str!("../../templates/pages/supervisor/case.html"),
    ),
    (
        "citizen/progress.html",
        include_str!("../../templates/pages/citizen/progress.html"),
    ),
    (
        "citizen/verify.html",
        include_str!("../../templates/pages/citizen/verify.html"),
    ),
    (
        "citizen/guide.html",
        include_str!("../../templates/pages/citizen/guide.html"),
    ),
    (
        "citizen/matter.html",
        include_str!("../../templates/pages/citizen/matter.html"),
    ),
    (
        "citizen/kiosk.html",
        include_str!("../../templates/pages/citizen/kiosk.html"),
    ),
    (
        "citizen/book.html",
        include_str!("../../templates/pages/citizen/book.html"),
    ),
    (
        "citizen/preapply.html",
        include_str!("../../templates/pages/citizen/preapply.html"),
    ),
    (
        "clerk/preapps.html",
        include_str!("../../templates/pages/clerk/preapps.html"),
    ),
    (
        "clerk/preapp.html",
        include_str!("../../templates/pages/clerk/preapp.html"),
    ),
    (
        "citizen/rate.html",
        include_str!("../../templates/pages/citizen/rate.html"),
    ),
];

fn lang_of(state: &State) -> Lang {
    match state.lookup("lang").as_ref().and_then(Value::as_str) {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    }
}

fn t(state: &State, key: &str) -> String {
    i18n::phrase(lang_of(state), key).to_owned()
}

fn tr(state: &State, zh: Option<String>, en: Option<String>) -> String {
    let zh = zh.unwrap_or_default();
    let en = en.unwrap_or_default();
    match lang_of(state) {
        Lang::En if !en.is_empty() => en,
        _ => zh,
    }
}

/// `中文 / English` catalogue text: the part in the reader's language.
fn bi(state: &State, text: Option<String>) -> String {
    let text = text.unwrap_or_default();
    match text.split_once(" / ") {
        Some((zh, en)) => lang_of(state).pick(zh, en).trim().to_owned(),
        None => text,
    }
}

fn china(ms: i64) -> chrono::DateTime<chrono::FixedOffset> {
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!());
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
}

/// `YYYY-MM-DD HH:MM` in China time.
pub fn datetime(ms: i64) -> String {
    china(ms).format("%Y-%m-%d %H:%M").to_string()
}

fn dt(ms: Option<i64>) -> String {
    ms.map(datetime).unwrap_or_default()
}

/// A duration in days, hours and minutes.
pub fn duration(lang: Lang, ms: i64) -> String {
    let mins = ms.max(0) / 60_000;
    let (d, h, m) = (mins / 1440, mins / 60 % 24, mins % 60);
    if d > 0 {
        i18n::phrase_with(lang, "unit.days_hours", &[("d", &d), ("h", &h)])
    } else if h > 0 {
        i18n::phrase_with(lang, "unit.hours_minutes", &[("h", &h), ("m", &m)])
    } else {
        i18n::phrase_with(lang, "unit.minutes", &[("m", &m)])
    }
}

fn dur(state: &State, ms: Option<i64>) -> String {
    ms.map(|ms| duration(lang_of(state), ms))
        .unwrap_or_default()
}

fn label(state: &State, group: &str, name: Option<String>) -> String {
    let name = name.unwrap_or_default();
    let key = format!("{group}.{name}");
    let p = i18n::phrase(lang_of(state), &key);
    if p == key { name } else { p.to_owned() }
}

/// A hall's name in the reader's language (from the page's `hall_names`), or
/// its node id when no name is known.
fn hall(state: &State, id: Option<String>) -> String {
    let id = id.unwrap_or_default();
    state
        .lookup("hall_names")
        .and_then(|m| m.get_attr(&id).ok())
        .filter(|v| !v.is_undefined() && !v.is_none())
        .map_or(id, |v| v.to_string())
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, text) in TEMPLATES {
        if let Err(e) = env.add_template(name, text) {
            tracing::error!(error = %e, template = name, "a page template does not parse");
        }
    }
    env.add_function("t", t);
    env.add_function("tr", tr);
    env.add_function("bi", bi);
    env.add_function("dt", dt);
    env.add_function("dur", dur);
    env.add_function("label", label);
    env.add_function("hall_name", hall);
    env
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(environment)
}

/// Renders a template with a context.
pub fn render(name: &str, ctx: Value) -> Result<String, minijinja::Error> {
    env().get_template(name)?.render(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            env.add_template(name, text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn every_phrase_a_template_asks_for_exists() {
        let mut missing = Vec::new();
        for (name, text) in TEMPLATES {
            for quote in ['"', '\''] {
                let open = format!("t({quote}");
                let mut rest = *text;
                while let Some(i) = rest.find(&open) {
                    let after = &rest[i + open.len()..];
                    let Some(end) = after.find(quote) else { break };
                    let key = &after[..end];
                    if !i18n::has(key) {
                        missing.push(format!("{name}: {key}"));
                    }
                    rest = &after[end..];
                }
            }
        }
        assert!(missing.is_empty(), "phrases missing: {missing:?}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Lang::Zh, 90 * 60_000), "1小时30分");
        assert_eq!(duration(Lang::En, 3 * 86_400_000 + 3_600_000), "3 d 1 h");
        assert_eq!(duration(Lang::En, 0), "0 min");
        assert_eq!(datetime(0), "1970-01-01 08:00");
    }
}
