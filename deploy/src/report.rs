//! Plain-text tables for people: aligned columns, no borders.

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
