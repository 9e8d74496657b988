//! A table as data, shown as HTML on a page and exported as CSV from the
//! same rows, so the export always says what the page says.
//!
//! CSV is UTF-8 with a byte-order mark (so that Excel reads Chinese
//! correctly), CRLF line ends, RFC 4180 quoting, and a leading `'` on text
//! that a spreadsheet would run as a formula.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One cell.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cell {
    /// Text.
    pub text: String,
    /// A link, on the page only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// A warning level that colours the cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<&'static str>,
    /// Kept on one line on the page (dates, times, counts of days).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nowrap: bool,
}

impl Cell {
    /// A link cell.
    pub fn link(text: impl Into<String>, href: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            href: Some(href.into()),
            level: None,
            nowrap: true,
        }
    }

    /// A coloured badge cell.
    pub fn level(text: impl Into<String>, level: &'static str) -> Self {
        Self {
            text: text.into(),
            href: None,
            level: Some(level),
            nowrap: false,
        }
    }

    /// A cell kept on one line (a date, a time).
    pub fn nowrap(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            nowrap: true,
            ..Self::default()
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self {
            text,
            ..Self::default()
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        text.to_owned().into()
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        n.to_string().into()
    }
}

/// One row.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Row {
    /// Colours the whole row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<&'static str>,
    /// Cells, one per header.
    pub cells: Vec<Cell>,
}

impl Row {
    /// A plain row.
    pub fn new(cells: Vec<Cell>) -> Self {
        Self { level: None, cells }
    }
}

/// A table with its CSV link.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Stable id; also the export's name.
    pub id: String,
    /// Caption.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows shown on the page.
    pub rows: Vec<Row>,
    /// Where the CSV is.
    pub csv: String,
    /// Text when there are no rows.
    pub empty: String,
    /// A note under the table (e.g. that the page shows the first rows).
    pub more: Option<String>,
}

/// A cell's text, defused: text that a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return, and not
/// a number) gets a leading `'`.
fn defused(s: &str) -> std::borrow::Cow<'_, str> {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err();
    if formula {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

impl Table {
    /// The table as CSV text, with a byte-order mark.
    pub fn to_csv(&self) -> String {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .flexible(true)
            .from_writer("\u{feff}".as_bytes().to_vec());
        let mut write = |cells: &mut dyn Iterator<Item = &str>| {
            // Writing to a Vec cannot fail.
            let _ = w.write_record(cells.map(|c| defused(c).into_owned()));
        };
        write(&mut self.headers.iter().map(String::as_str));
        for r in &self.rows {
            write(&mut r.cells.iter().map(|c| c.text.as_str()));
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// The CSV as a download named `<id>.csv`.
    pub fn csv_response(&self) -> Response {
        let name: String = self
            .id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"onewindow-{name}.csv\""),
                ),
            ],
            self.to_csv(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_bom_quotes_and_defuses_formulas() {
        let t = Table {
            id: "x".into(),
            title: "t".into(),
            headers: vec!["案件".into(), "说明".into()],
            rows: vec![
                Row::new(vec!["NH1".into(), "a,\"b\"".into()]),
                Row::new(vec!["=1+1".into(), Cell::from(-5)]),
                Row::new(vec!["@SUM(A1)".into(), "+1 phone".into()]),
                Row::new(vec!["-x".into(), "line\nbreak".into()]),
            ],
            csv: String::new(),
            empty: String::new(),
            more: None,
        };
        let csv = t.to_csv();
        assert!(csv.starts_with('\u{feff}'));
        assert_eq!(
            csv.trim_start_matches('\u{feff}'),
            "案件,说明\r\nNH1,\"a,\"\"b\"\"\"\r\n'=1+1,-5\r\n'@SUM(A1),'+1 phone\r\n'-x,\"line\nbreak\"\r\n"
        );
    }
}
