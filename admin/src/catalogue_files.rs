//! Catalogues as files and as the node holds them: loading and checking
//! files in the shape of `configs/catalogue/`, fetching a version from the
//! node, listing what changed between two catalogues, and writing one back
//! out as files.

use anyhow::Context;
use onewindow_client::Client;
use onewindow_domain::catalogue::{Catalogue, Delegation, DelegationRule, Matter, MatterFile};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::output::Coded;

/// The TOML files a list of paths names: a folder stands for its `*.toml`
/// files in name order.
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading the folder {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml") && f.is_file())
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return Err(Coded::new(
            "no_catalogue_files",
            format!(
                "no catalogue files in {}",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into());
    }
    Ok(files)
}

/// A catalogue from files: TOML files in the shape of `configs/catalogue/`
/// (folders stand for their `*.toml` files), or one JSON file in the shape
/// the node's API returns. Checked as the node checks it.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Catalogue> {
    let files = expand(paths)?;
    let invalid = |e: &dyn std::fmt::Display| Coded::new("catalogue_invalid", e.to_string());
    if let [one] = files.as_slice()
        && one.extension().is_some_and(|x| x == "json")
    {
        let text =
            std::fs::read_to_string(one).with_context(|| format!("reading {}", one.display()))?;
        let cat: Catalogue =
            serde_json::from_str(&text).map_err(|e| invalid(&format!("{}: {e}", one.display())))?;
        cat.validate().map_err(|e| invalid(&e))?;
        return Ok(cat);
    }
    let mut texts = Vec::new();
    for f in &files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        texts.push((f.display().to_string(), text));
    }
    Catalogue::from_toml_texts(0, texts.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .map_err(|e| invalid(&e).into())
}

/// One version as the node holds it.
pub async fn fetch(api: &Client, version: i64) -> anyhow::Result<Catalogue> {
    let json = api.catalogue_version(version).await?.json;
    serde_json::from_value(json)
        .with_context(|| format!("catalogue version {version} as the node sent it"))
}

/// The version in use at the node (the published one) and its content.
pub async fn in_use(api: &Client) -> anyhow::Result<Catalogue> {
    let versions = api.catalogue_versions().await?.value;
    let v = versions
        .iter()
        .filter(|v| v.state == "published")
        .map(|v| v.version)
        .max()
        .ok_or_else(|| {
            Coded::new(
                "no_published_catalogue",
                "the node has no published catalogue",
            )
        })?;
    fetch(api, v).await
}

/// What changed in one department or matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// `department` or `matter`.
    pub what: &'static str,
    /// Its code.
    pub code: String,
    /// Its Chinese name (in the newer catalogue when both have it).
    pub name_zh: String,
    /// For a changed one: each changed field, as `field: old -> new` where
    /// that is short, else the field's name.
    pub fields: Vec<String>,
}

fn names(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        "-".to_owned()
    } else {
        s.iter().cloned().collect::<Vec<_>>().join(",")
    }
}

/// A delegation rule in words: `receive district,township; decide district`
/// and the named halls.
pub fn rule_text(r: &DelegationRule) -> String {
    let mut s = format!(
        "receive {}; decide {}",
        names(&r.receive_tiers),
        names(&r.decide_tiers)
    );
    if !r.receive_halls.is_empty() {
        s.push_str(&format!("; receive halls {}", names(&r.receive_halls)));
    }
    if !r.decide_halls.is_empty() {
        s.push_str(&format!("; decide halls {}", names(&r.decide_halls)));
    }
    s
}

/// A delegation in words, with its dated change.
pub fn delegation_text(d: &Delegation) -> String {
    match (&d.from, &d.earlier) {
        (Some(from), Some(earlier)) => format!(
            "{} until {}, then {}",
            rule_text(earlier),
            from.pred_opt().unwrap_or(*from),
            rule_text(&d.current())
        ),
        _ => rule_text(&d.current()),
    }
}

fn short(v: &Value) -> Option<String> {
    let s = match v {
        Value::Object(_) | Value::Array(_) => return None,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (s.chars().count() <= 40).then_some(s)
}

/// For a list of items with codes (materials, situations, stages): which
/// were added, removed or changed, e.g. `materials: M02 changed, M07 added`.
fn by_code(field: &str, old: Option<&Value>, new: Option<&Value>) -> Option<String> {
    let items = |v: Option<&Value>| -> Option<Vec<(String, Value)>> {
        let list = match v {
            None => return Some(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(_) => return None,
        };
        list.iter()
            .map(|x| {
                let code = x.get("code").or_else(|| x.get("stage"))?;
                Some((short(code)?, x.clone()))
            })
            .collect()
    };
    let (a, b) = (items(old)?, items(new)?);
    let mut parts = Vec::new();
    for (code, x) in &a {
        match b.iter().find(|(c, _)| c == code) {
            None => parts.push(format!("{code} removed")),
            Some((_, y)) if y != x => parts.push(format!("{code} changed")),
            Some(_) => {}
        }
    }
    for (code, _) in &b {
        if !a.iter().any(|(c, _)| c == code) {
            parts.push(format!("{code} added"));
        }
    }
    if parts.is_empty() {
        parts.push("order changed".to_owned());
    }
    Some(format!("{field}: {}", parts.join(", ")))
}

fn matter_fields(a: &Matter, b: &Matter) -> Vec<String> {
    let (Ok(Value::Object(x)), Ok(Value::Object(y))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return vec!["(not comparable)".to_owned()];
    };
    let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let (old, new) = (x.get(k), y.get(k));
        if old == new {
            continue;
        }
        if k == "delegation" {
            out.push(format!(
                "delegation: {} -> {}",
                delegation_text(&a.delegation),
                delegation_text(&b.delegation)
            ));
            continue;
        }
        if let Some(parts) = by_code(k, old, new) {
            out.push(parts);
            continue;
        }
        match (old.and_then(short), new.and_then(short)) {
            (Some(o), Some(n)) => out.push(format!("{k}: {o} -> {n}")),
            _ => out.push(k.clone()),
        }
    }
    out
}

/// Every department and matter added, removed or changed from `a` to `b`,
/// departments first, each in code order.
pub fn diff(a: &Catalogue, b: &Catalogue) -> Vec<Change> {
    let mut out = Vec::new();
    let codes: BTreeSet<&String> = a.departments.keys().chain(b.departments.keys()).collect();
    for code in codes {
        let (old, new) = (a.departments.get(code), b.departments.get(code));
        let (change, name) = match (old, new) {
            (None, Some(n)) => ("added", &n.name_zh),
            (Some(o), None) => ("removed", &o.name_zh),
            (Some(o), Some(n)) if o != n => ("changed", &n.name_zh),
            _ => continue,
        };
        out.push(Change {
            change,
            what: "department",
            code: code.clone(),
            name_zh: name.clone(),
            fields: Vec::new(),
        });
    }
    let codes: BTreeSet<&String> = a.matters.keys().chain(b.matters.keys()).collect();
    for code in codes {
        let (old, new) = (a.matters.get(code), b.matters.get(code));
        let (change, name, fields) = match (old, new) {
            (None, Some(n)) => ("added", &n.name_zh, Vec::new()),
            (Some(o), None) => ("removed", &o.name_zh, Vec::new()),
            (Some(o), Some(n)) if o != n => ("changed", &n.name_zh, matter_fields(o, n)),
            _ => continue,
        };
        out.push(Change {
            change,
            what: "matter",
            code: code.clone(),
            name_zh: name.clone(),
            fields,
        });
    }
    out
}

/// A file name part from a department code: letters, digits and `-`.
fn file_part(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Writes a catalogue as files in the shape of `configs/catalogue/`:
/// `00-departments.toml`, then one file per department with its matters.
/// Refuses a folder that already holds TOML files. The files written.
pub fn export(cat: &Catalogue, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let taken = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .any(|e| e.path().extension().is_some_and(|x| x == "toml"));
    if taken {
        return Err(Coded::new(
            "export_folder_not_empty",
            format!(
                "{} already holds catalogue files; give an empty folder",
                dir.display()
            ),
        )
        .into());
    }
    let head = format!(
        "# Catalogue version {} as exported by onewindow-admin; check with\n# `onewindow-admin catalogue validate` and publish with `catalogue publish`.\n\n",
        cat.version
    );
    let mut files = vec![(
        "00-departments.toml".to_owned(),
        MatterFile {
            departments: cat.departments.values().cloned().collect(),
            matters: Vec::new(),
        },
    )];
    for (i, code) in cat.departments.keys().enumerate() {
        let matters: Vec<Matter> = cat
            .matters
            .values()
            .filter(|m| &m.department == code)
            .cloned()
            .collect();
        if matters.is_empty() {
            continue;
        }
        files.push((
            format!("{:02}-{}.toml", (i + 1) * 10, file_part(code)),
            MatterFile {
                departments: Vec::new(),
                matters,
            },
        ));
    }
    let mut written = Vec::new();
    for (name, file) in files {
        let text = toml::to_string(&file).with_context(|| format!("writing {name} as TOML"))?;
        let path = dir.join(&name);
        std::fs::write(&path, format!("{head}{text}"))
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn starter() -> Catalogue {
        onewindow_domain::starter::catalogue().unwrap()
    }

    #[test]
    fn an_exported_catalogue_reads_back_the_same() {
        let mut cat = starter();
        // A trust-first matter open for cross-district handling as well:
        // its flag follows the pledge's table in the file.
        if let Some(m) = cat.matters.values_mut().find(|m| m.trust_first.is_some()) {
            m.cross_district = true;
        }
        let dir = tempfile::tempdir().unwrap();
        let files = export(&cat, dir.path()).unwrap();
        assert!(files.len() > 2);
        let back = load(&[dir.path().to_owned()]).unwrap();
        assert_eq!(back.departments, cat.departments);
        assert_eq!(back.matters, cat.matters);
        assert!(diff(&cat, &back).is_empty());
        // A second export into the same folder is refused.
        let again = export(&cat, dir.path()).unwrap_err();
        assert!(
            again.to_string().starts_with("export_folder_not_empty"),
            "{again}"
        );
    }

    #[test]
    fn a_diff_names_what_changed_and_a_delegation_in_words() {
        let a = starter();
        let mut b = a.clone();
        let code = a.matters.keys().next().unwrap().clone();
        let m = b.matters.get_mut(&code).unwrap();
        let mut rule = m.delegation.current();
        rule.receive_tiers.insert("village".into());
        m.delegation = m
            .delegation
            .changed(rule, chrono::NaiveDate::from_ymd_opt(2026, 12, 10));
        m.version += 1;
        m.materials[0].name_en.push_str(" (original)");
        let first = m.materials[0].code.clone();
        let gone = b.matters.keys().nth(1).unwrap().clone();
        b.matters.remove(&gone);
        let d = diff(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(
            (d[0].change, d[0].code.as_str()),
            ("changed", code.as_str())
        );
        let fields = d[0].fields.join(" | ");
        assert!(fields.contains("version: 1 -> 2"), "{fields}");
        assert!(
            fields.contains(&format!("materials: {first} changed")),
            "{fields}"
        );
        assert!(
            fields.contains("until 2026-12-09, then receive") && fields.contains("village"),
            "{fields}"
        );
        assert_eq!(
            (d[1].change, d[1].code.as_str()),
            ("removed", gone.as_str())
        );
    }

    #[test]
    fn bad_files_are_refused_with_a_code() {
        let dir = tempfile::tempdir().unwrap();
        let none = load(&[dir.path().to_owned()]).unwrap_err();
        assert!(none.to_string().starts_with("no_catalogue_files"), "{none}");
        std::fs::write(dir.path().join("a.toml"), "[[matters]]\ncode = 1\n").unwrap();
        let bad = load(&[dir.path().to_owned()]).unwrap_err();
        assert!(bad.to_string().starts_with("catalogue_invalid"), "{bad}");
        assert!(bad.to_string().contains("a.toml"), "{bad}");
        assert!(!bad.to_string().contains('\n'), "one line: {bad}");
        assert!(bad.to_string().contains("line 2, column 8"), "{bad}");
    }
}
