//! Charts as inline SVG, drawn on the server: stacked columns over time,
//! horizontal bars for categories, and a line for a share. No script and no
//! library; every mark carries its value in a `<title>` (a tooltip, and what
//! a screen reader says) and in `data-` attributes.

use std::fmt::Write as _;

/// One series of a column chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Fill colour.
    pub color: &'static str,
    /// One value per label.
    pub values: Vec<i64>,
}

/// Colours for series, readable on white and distinct for common colour
/// blindness (from the Okabe-Ito palette).
pub const PALETTE: [&str; 6] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
];

const W: f64 = 600.0;
const H: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 44.0;

/// Escapes text for SVG/HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The text under a column: `MM-DD` for a `YYYY-MM-DD` date.
fn tick(label: &str) -> &str {
    if label.len() == 10 && label.as_bytes().get(4) == Some(&b'-') {
        label.get(5..).unwrap_or(label)
    } else {
        label
    }
}

/// A round step for `max` split into about `ticks` intervals.
fn nice_step(max: f64, ticks: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / ticks;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    (step * mag).max(1.0)
}

fn open(out: &mut String, id: &str, title: &str, width: f64, height: f64) {
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-t" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{}</title>"#,
        esc(title)
    );
}

fn legend(out: &mut String, names: &[(&str, &str)]) {
    let mut x = LEFT;
    for (name, color) in names {
        let _ = write!(
            out,
            r#"<rect x="{x}" y="8" width="12" height="12" fill="{color}"/><text x="{}" y="18" class="lg">{}</text>"#,
            x + 16.0,
            esc(name)
        );
        x += 28.0 + 13.0 * name.chars().count() as f64;
    }
}

/// Horizontal gridlines and y labels for values up to `max`; returns the
/// value at the top of the plot.
fn y_axis(out: &mut String, width: f64, max: f64, suffix: &str) -> f64 {
    let step = nice_step(max, 4.0);
    let top = (max / step).ceil().max(1.0) * step;
    let plot_h = H - TOP - BOTTOM;
    let mut v = 0.0;
    while v <= top + 0.5 {
        let y = TOP + plot_h - v / top * plot_h;
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{}" y="{:.1}" class="ax" text-anchor="end">{}{suffix}</text>"#,
            width - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            v as i64
        );
        v += step;
    }
    top
}

/// Columns over labels (days, buckets), stacked by series. Each column is a
/// `<g class="col" data-label=.. data-value=..>` with the column's total.
pub fn columns(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    columns_in(W, id, title, labels, series)
}

/// [`columns`] drawn for a full-width card.
pub fn wide_columns(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    columns_in(W * 1.9, id, title, labels, series)
}

fn columns_in(width: f64, id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    let mut out = String::new();
    open(&mut out, id, title, width, H);
    let n = labels.len().max(1);
    let totals: Vec<i64> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0) as f64;
    let top = y_axis(&mut out, width, max, "");
    let plot_w = width - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let bar_w = (slot * 0.72).max(1.0);
    let every = n.div_ceil(if width > W { 20 } else { 12 }).max(1);
    for (i, label) in labels.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let total = totals.get(i).copied().unwrap_or(0);
        let _ = write!(
            out,
            r#"<g class="col" data-label="{}" data-value="{total}">"#,
            esc(label)
        );
        let mut y = TOP + plot_h;
        for s in series {
            let v = s.values.get(i).copied().unwrap_or(0);
            if v <= 0 {
                continue;
            }
            let h = v as f64 / top * plot_h;
            y -= h;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{}"><title>{} {}: {v}</title></rect>"#,
                s.color,
                esc(label),
                esc(&s.name)
            );
        }
        if total == 0 {
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="0.5" fill="#bbb"><title>{}: 0</title></rect>"##,
                TOP + plot_h - 0.5,
                esc(label)
            );
        }
        out.push_str("</g>");
        if i % every == 0 || i + 1 == labels.len() && n <= 12 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" class="ax" text-anchor="middle">{}</text>"#,
                LEFT + slot * i as f64 + slot / 2.0,
                H - BOTTOM + 20.0,
                esc(tick(label))
            );
        }
    }
    if series.len() > 1 {
        let names: Vec<(&str, &str)> = series.iter().map(|s| (s.name.as_str(), s.color)).collect();
        legend(&mut out, &names);
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per item, longest first as given. Each bar is a
/// `<g class="bar" data-label=.. data-value=..>`.
pub fn bars(id: &str, title: &str, items: &[(String, i64)], color: &str) -> String {
    let row = 22.0;
    let label_w = 210.0;
    let height = TOP + row * items.len().max(1) as f64 + 8.0;
    let mut out = String::new();
    open(&mut out, id, title, W, height);
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let plot_w = W - label_w - RIGHT - 48.0;
    if items.is_empty() {
        let _ = write!(
            out,
            r#"<text x="{LEFT}" y="{}" class="ax">—</text>"#,
            TOP + 14.0
        );
    }
    for (i, (label, v)) in items.iter().enumerate() {
        let y = TOP + row * i as f64;
        let w = (*v as f64 / max * plot_w).max(if *v > 0 { 1.0 } else { 0.0 });
        let shown: String = if label.chars().count() > 15 {
            label.chars().take(14).chain(['…']).collect()
        } else {
            label.clone()
        };
        let _ = write!(
            out,
            r#"<g class="bar" data-label="{}" data-value="{v}"><text x="{:.1}" y="{:.1}" class="ax" text-anchor="end">{}</text><rect x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{color}"><title>{}: {v}</title></rect><text x="{:.1}" y="{:.1}" class="val">{v}</text></g>"#,
            esc(label),
            label_w - 8.0,
            y + 15.0,
            esc(&shown),
            y + 3.0,
            row - 6.0,
            esc(label),
            label_w + w + 6.0,
            y + 15.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// A line of percentages (0..=100) over labels; `None` leaves a gap.
pub fn share_line(id: &str, title: &str, labels: &[String], values: &[Option<f64>]) -> String {
    let mut out = String::new();
    open(&mut out, id, title, W, H);
    let top = y_axis(&mut out, W, 100.0, "%");
    let n = labels.len().max(1);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let every = n.div_ceil(12).max(1);
    let mut path = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot / 2.0;
        match v {
            Some(v) => {
                let y = TOP + plot_h - v / top * plot_h;
                let _ = write!(path, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                pen_down = true;
                let _ = write!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}" data-label="{}" data-value="{v:.1}"><title>{}: {v:.1}%</title></circle>"#,
                    PALETTE[2],
                    esc(labels.get(i).map_or("", String::as_str)),
                    esc(labels.get(i).map_or("", String::as_str)),
                );
            }
            None => pen_down = false,
        }
    }
    for (i, label) in labels.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" class="ax" text-anchor="middle">{}</text>"#,
                LEFT + slot * i as f64 + slot / 2.0,
                H - BOTTOM + 20.0,
                esc(tick(label))
            );
        }
    }
    let _ = write!(
        out,
        r#"<path d="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
        path.trim_end(),
        PALETTE[2]
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.0, 4.0), 1.0);
        assert_eq!(nice_step(7.0, 4.0), 2.0);
        assert_eq!(nice_step(100.0, 4.0), 50.0);
        assert_eq!(nice_step(3400.0, 4.0), 1000.0);
    }

    #[test]
    fn columns_carry_their_totals_and_escape_labels() {
        let svg = columns(
            "c",
            "a<b",
            &["d1".into(), "d<2".into()],
            &[
                Series {
                    name: "x".into(),
                    color: PALETTE[0],
                    values: vec![1, 2],
                },
                Series {
                    name: "y".into(),
                    color: PALETTE[1],
                    values: vec![3, 0],
                },
            ],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains(r#"data-label="d1" data-value="4""#));
        assert!(svg.contains(r#"data-label="d&lt;2" data-value="2""#));
        assert!(svg.contains("a&lt;b"));
        assert!(!svg.contains("d<2"));
    }

    #[test]
    fn bars_and_lines_render_empty_and_full() {
        assert!(bars("b", "t", &[], "#000").contains("—"));
        let b = bars("b", "t", &[("甲".into(), 5), ("乙".into(), 0)], "#000");
        assert!(b.contains(r#"data-label="甲" data-value="5""#));
        let l = share_line("l", "t", &["a".into(), "b".into()], &[Some(50.0), None]);
        assert!(l.contains(r#"data-value="50.0""#));
    }
}
