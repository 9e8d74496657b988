//! Plain-text tables for people: aligned columns, no borders, a header row
//! in capitals. Used by `onewindow-admin` and `onewindow-deploy`, so both
//! print tables the same way; it depends on nothing but comfy-table.

use comfy_table::{Cell, CellAlignment, Table, presets};

/// A table with a header row; the columns whose indexes are in `right` are
/// right-aligned (numbers). Wide (CJK) characters are measured as two columns.
pub fn table(headers: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    let cell = |i: usize, text: &str| {
        let c = Cell::new(text);
        if right.contains(&i) {
            c.set_alignment(CellAlignment::Right)
        } else {
            c
        }
    };
    t.set_header(
        headers
            .iter()
            .enumerate()
            .map(|(i, h)| cell(i, &h.to_uppercase())),
    );
    for row in rows {
        t.add_row(row.iter().enumerate().map(|(i, v)| cell(i, v)));
    }
    for col in t.column_iter_mut() {
        col.set_padding((0, 2));
    }
    t.trim_fmt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_wide_characters_and_numbers_go_right() {
        let t = table(
            &["code", "name", "n"],
            &[
                vec!["A".into(), "出生登记".into(), "5".into()],
                vec!["BB".into(), "x".into(), "10".into()],
            ],
            &[2],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines,
            [
                "CODE  NAME       N",
                "A     出生登记   5",
                "BB    x         10"
            ]
        );
    }

    #[test]
    fn a_table_without_rows_is_its_header() {
        assert_eq!(table(&["a", "bb"], &[], &[]), "A  BB");
    }
}
