//! Statistics for supervisors, drawn as inline SVG with their data tables:
//! volume by tier over time, by matter, department and hall, the share of
//! immediate completions, handling times, queue waiting times and ratings;
//! and the fleet table with the security events.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::charts::{self, PALETTE, Series};
use super::supervisor::{SupQuery, allowed, dept_name, matter_name};
use super::table::{Cell, Row, Table};
use super::templates::{datetime, duration};
use super::web::{Ctx, StaffCtx};
use crate::error::ServiceError as Error;
use crate::store::{CHINA_OFFSET_MS, DAY_MS, Distribution, HANDLING_BOUNDS_MS, WAIT_BOUNDS_MS};

/// One chart with its heading.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Chart {
    /// Element id.
    pub id: String,
    /// Heading.
    pub title: String,
    /// The SVG.
    pub svg: String,
    /// Id of the table with its data.
    pub table: String,
}

/// The statistics page's content.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stats {
    /// Days in the window.
    pub days: i64,
    /// First day.
    pub from: String,
    /// Last day (today).
    pub to: String,
    /// Headline figures: label and value.
    pub figures: Vec<(String, String)>,
    /// Charts.
    pub charts: Vec<Chart>,
    /// Tables (the data of the charts), every one exportable.
    pub tables: Vec<Table>,
}

fn date_of_day(day: i64) -> String {
    datetime(day * DAY_MS).get(..10).unwrap_or("").to_owned()
}

fn pct(part: i64, whole: i64) -> String {
    if whole == 0 {
        "—".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn table(
    ctx: &Ctx,
    id: &str,
    title: String,
    headers: Vec<String>,
    rows: Vec<Row>,
    q: &str,
) -> Table {
    Table {
        id: id.to_owned(),
        title,
        headers,
        rows,
        csv: format!("/supervisor/export/{id}?{q}"),
        empty: ctx.phrase("stats.no_data_yet"),
        more: None,
    }
}

/// Short names of a bucket bound: `1小时`, `3天`, `15分` / `1 h`, `3 d`, `15 min`.
fn short(ctx: &Ctx, ms: i64) -> String {
    let (n, key) = if ms % DAY_MS == 0 {
        (ms / DAY_MS, "unit.days")
    } else if ms % 3_600_000 == 0 {
        (ms / 3_600_000, "unit.hours")
    } else {
        (ms / 60_000, "unit.short_minutes")
    };
    ctx.phrase_with(key, &[("n", &n)])
}

fn bucket_labels(ctx: &Ctx, bounds: &[i64]) -> Vec<String> {
    let mut out = Vec::new();
    let mut lo: Option<i64> = None;
    for b in bounds {
        out.push(match lo {
            None => format!("<{}", short(ctx, *b)),
            Some(l) => format!("{}–{}", short(ctx, l), short(ctx, *b)),
        });
        lo = Some(*b);
    }
    if let Some(l) = lo {
        out.push(format!("≥{}", short(ctx, l)));
    }
    out
}

fn dist_rows(labels: &[String], d: &Distribution) -> Vec<Row> {
    labels
        .iter()
        .zip(&d.buckets)
        .map(|(l, n)| Row::new(vec![l.clone().into(), (*n).into()]))
        .collect()
}

/// Computes the statistics for the window the query asks for (30 days by
/// default, at most a year).
pub async fn stats(ctx: &Ctx, q: &SupQuery) -> Result<Stats, Error> {
    let node = &ctx.node;
    let days = q.days_n().unwrap_or(30).clamp(1, 366);
    let today = (node.now_ms() + CHINA_OFFSET_MS).div_euclid(DAY_MS);
    let first = today - days + 1;
    let (from_ms, to_ms) = (
        first * DAY_MS - CHINA_OFFSET_MS,
        (today + 1) * DAY_MS - CHINA_OFFSET_MS,
    );
    let (from_day, to_day) = (date_of_day(first), date_of_day(today));
    let scope = node.oversight_scope();
    let crate::store::PeriodFigures {
        by_day,
        by_matter,
        by_department: by_dept,
        handling,
        ratings,
        states,
        waits,
        trust,
    } = node
        .store
        .period_figures(&scope, (from_ms, to_ms), (&from_day, &to_day), None)
        .await?;
    let qs = SupQuery {
        days: Some(days.to_string()),
        ..SupQuery::default()
    }
    .to_query();
    let tiers = node.config.node.tiers.clone();
    let labels: Vec<String> = (first..=today).map(date_of_day).collect();
    let n = labels.len();
    let mut per_tier = vec![vec![0i64; n]; tiers.len()];
    let mut imm = vec![0i64; n];
    let mut halls: std::collections::BTreeMap<String, i64> = Default::default();
    for r in &by_day {
        let Ok(i) = usize::try_from(r.day - first) else {
            continue;
        };
        if i >= n {
            continue;
        }
        let tier = node.tier_of(&r.hall);
        if let Some(t) = tiers.iter().position(|x| *x == tier) {
            per_tier[t][i] += r.cases;
        }
        imm[i] += r.immediate;
        *halls.entry(r.hall.clone()).or_default() += r.cases;
    }
    let tier_name = |t: &str| super::i18n::phrase(ctx.lang, &format!("tier.{t}")).to_owned();
    let series: Vec<Series> = tiers
        .iter()
        .enumerate()
        .map(|(i, t)| Series {
            name: tier_name(t),
            color: PALETTE[i % PALETTE.len()],
            values: per_tier[i].clone(),
        })
        .collect();
    let totals: Vec<i64> = (0..n)
        .map(|i| per_tier.iter().map(|t| t[i]).sum())
        .collect();
    let total: i64 = totals.iter().sum();
    let total_imm: i64 = imm.iter().sum();
    let mut tables = Vec::new();
    let mut charts_out = Vec::new();
    let mut chart = |id: &str, title: String, svg: String, table: &str| {
        charts_out.push(Chart {
            id: id.into(),
            title,
            svg,
            table: table.into(),
        });
    };
    // Volume by tier over time.
    let title = ctx.phrase("stats.cases_received_per_day_by_tier");
    chart(
        "volume",
        title.clone(),
        charts::wide_columns("chart-volume", &title, &labels, &series),
        "stats-days",
    );
    let mut hdr = ctx.phrases(&["col.day"]);
    hdr.extend(tiers.iter().map(|t| tier_name(t)));
    hdr.extend(ctx.phrases(&["col.total", "col.immediate", "col.immediate_share"]));
    let rows = (0..n)
        .map(|i| {
            let mut cells: Vec<Cell> = vec![labels[i].clone().into()];
            cells.extend(per_tier.iter().map(|t| Cell::from(t[i])));
            cells.extend([
                totals[i].into(),
                imm[i].into(),
                pct(imm[i], totals[i]).into(),
            ]);
            Row::new(cells)
        })
        .collect();
    tables.push(table(ctx, "stats-days", title, hdr, rows, &qs));
    // Immediate share per day.
    let title = ctx.phrase("stats.share_of_immediate_completions_per_day");
    let shares: Vec<Option<f64>> = (0..n)
        .map(|i| (totals[i] > 0).then(|| imm[i] as f64 * 100.0 / totals[i] as f64))
        .collect();
    chart(
        "immediate",
        title.clone(),
        charts::share_line("chart-immediate", &title, &labels, &shares),
        "stats-days",
    );
    // By matter, department, hall.
    let title = ctx.phrase("stats.busiest_matters");
    let items: Vec<(String, i64)> = by_matter
        .iter()
        .take(15)
        .map(|r| (matter_name(ctx, &r.key), r.cases))
        .collect();
    chart(
        "matters",
        title.clone(),
        charts::bars("chart-matters", &title, &items, PALETTE[0]),
        "stats-matters",
    );
    let rows = by_matter
        .iter()
        .map(|r| {
            Row::new(vec![
                r.key.clone().into(),
                matter_name(ctx, &r.key).into(),
                r.cases.into(),
                r.immediate.into(),
            ])
        })
        .collect();
    tables.push(table(
        ctx,
        "stats-matters",
        title,
        ctx.phrases(&["col.code", "col.matter", "col.cases", "col.immediate"]),
        rows,
        &qs,
    ));
    let title = ctx.phrase("stats.cases_per_department");
    let items: Vec<(String, i64)> = by_dept
        .iter()
        .map(|r| (dept_name(ctx, &r.key), r.cases))
        .collect();
    chart(
        "departments",
        title.clone(),
        charts::bars("chart-departments", &title, &items, PALETTE[1]),
        "stats-departments",
    );
    let rows = by_dept
        .iter()
        .map(|r| {
            Row::new(vec![
                r.key.clone().into(),
                dept_name(ctx, &r.key).into(),
                r.cases.into(),
            ])
        })
        .collect();
    tables.push(table(
        ctx,
        "stats-departments",
        title,
        ctx.phrases(&["col.code_2", "col.department", "col.cases"]),
        rows,
        &qs,
    ));
    let mut hall_rows: Vec<(String, i64)> = halls.into_iter().collect();
    hall_rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let title = ctx.phrase("stats.cases_per_hall");
    chart(
        "halls",
        title.clone(),
        charts::bars(
            "chart-halls",
            &title,
            &hall_rows.iter().take(15).cloned().collect::<Vec<_>>(),
            PALETTE[2],
        ),
        "stats-halls",
    );
    let rows = hall_rows
        .iter()
        .map(|(h, c)| {
            Row::new(vec![
                h.clone().into(),
                tier_name(&node.tier_of(h)).into(),
                (*c).into(),
            ])
        })
        .collect();
    tables.push(table(
        ctx,
        "stats-halls",
        title,
        ctx.phrases(&["col.hall", "col.tier", "col.cases"]),
        rows,
        &qs,
    ));
    // Handling times.
    let hl = bucket_labels(ctx, &HANDLING_BOUNDS_MS);
    let title = ctx.phrase("stats.time_from_receipt_to_completion");
    let s = [Series {
        name: ctx.phrase("stats.cases"),
        color: PALETTE[4],
        values: handling.buckets.clone(),
    }];
    chart(
        "handling",
        title.clone(),
        charts::columns("chart-handling", &title, &hl, &s),
        "stats-handling",
    );
    tables.push(table(
        ctx,
        "stats-handling",
        title,
        ctx.phrases(&["col.time_2", "col.cases"]),
        dist_rows(&hl, &handling),
        &qs,
    ));
    // Queue waits.
    let wl = bucket_labels(ctx, &WAIT_BOUNDS_MS);
    let title = ctx.phrase("stats.queue_waiting_time");
    let s = [Series {
        name: ctx.phrase("stats.visitors"),
        color: PALETTE[3],
        values: waits.buckets.clone(),
    }];
    chart(
        "waits",
        title.clone(),
        charts::columns("chart-waits", &title, &wl, &s),
        "stats-queue",
    );
    tables.push(table(
        ctx,
        "stats-queue",
        title,
        ctx.phrases(&["col.wait", "col.visitors"]),
        dist_rows(&wl, &waits),
        &qs,
    ));
    // This hall's bookings, and waiting times by channel.
    booking_tables(ctx, (from_day.as_str(), to_day.as_str()), &qs, &mut tables).await?;
    // Ratings.
    let rl: Vec<String> = (1..=5)
        .map(|s| super::i18n::phrase(ctx.lang, &format!("score.{s}")).to_owned())
        .collect();
    let title = ctx.phrase("stats.ratings");
    let items: Vec<(String, i64)> = rl.iter().cloned().zip(ratings).collect();
    chart(
        "ratings",
        title.clone(),
        charts::bars("chart-ratings", &title, &items, PALETTE[5]),
        "stats-ratings",
    );
    let rows = items
        .iter()
        .map(|(l, c)| Row::new(vec![l.clone().into(), (*c).into()]))
        .collect();
    tables.push(table(
        ctx,
        "stats-ratings",
        title,
        ctx.phrases(&["col.rating", "col.cases"]),
        rows,
        &qs,
    ));
    let rated: i64 = ratings.iter().sum();
    // States.
    let rows = states
        .iter()
        .map(|(s, c)| {
            Row::new(vec![
                super::i18n::phrase(ctx.lang, &format!("state.{s}")).into(),
                (*c).into(),
            ])
        })
        .collect();
    tables.push(table(
        ctx,
        "stats-states",
        ctx.phrase("stats.cases_by_state"),
        ctx.phrases(&["col.state", "col.cases"]),
        rows,
        &qs,
    ));
    // Trust first, check later: results issued on a pledge, and how many
    // of them a post-check revoked.
    let trust_of = |s: &str| trust.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let (pending, passed, revoked) = (trust_of("pending"), trust_of("passed"), trust_of("revoked"));
    let issued = pending + passed + revoked;
    let rows = [
        ("stats.trust_issued", issued),
        ("stats.trust_pending", pending),
        ("stats.trust_passed", passed),
        ("stats.trust_revoked", revoked),
    ]
    .iter()
    .map(|(k, n)| Row::new(vec![ctx.phrase(k).into(), (*n).into()]))
    .collect();
    tables.push(table(
        ctx,
        "stats-trust",
        ctx.phrase("stats.trust_first"),
        ctx.phrases(&["col.state", "col.cases"]),
        rows,
        &qs,
    ));
    let avg = |d: &Distribution| {
        if d.count > 0 {
            duration(ctx.lang, d.total_ms / d.count)
        } else {
            "—".into()
        }
    };
    let figures = vec![
        (ctx.phrase("stats.cases_received"), total.to_string()),
        (ctx.phrase("stats.immediate_share"), pct(total_imm, total)),
        (
            ctx.phrase("stats.average_time_to_completion"),
            avg(&handling),
        ),
        (
            ctx.phrase("stats.longest_time_to_completion"),
            if handling.count > 0 {
                duration(ctx.lang, handling.max_ms)
            } else {
                "—".into()
            },
        ),
        (ctx.phrase("stats.average_queue_wait"), avg(&waits)),
        (
            ctx.phrase("stats.satisfied"),
            pct(ratings[0] + ratings[1], rated),
        ),
        (ctx.phrase("stats.trust_issued"), issued.to_string()),
        (
            ctx.phrase("stats.trust_revoked"),
            format!("{revoked} ({})", pct(revoked, issued)),
        ),
    ];
    Ok(Stats {
        days,
        from: from_day,
        to: to_day,
        figures,
        charts: charts_out,
        tables,
    })
}

/// The hall's bookings of the period by what came of them, and the queue's
/// waiting times (number taken to called) by channel: booked (`B`) and
/// walk-in (`A`, late arrivals with a booking included).
async fn booking_tables(
    ctx: &Ctx,
    (from_day, to_day): (&str, &str),
    qs: &str,
    tables: &mut Vec<Table>,
) -> Result<(), Error> {
    let node = &ctx.node;
    let c = node
        .store
        .booking_counts(from_day, to_day, node.now_ms())
        .await?;
    let rows = [
        ("stats.booking.booked", c.booked),
        ("stats.booking.arrived", c.arrived),
        ("stats.booking.no_show", c.no_show),
        ("stats.booking.late", c.late),
        ("stats.booking.cancelled", c.cancelled),
        ("stats.booking.open", c.open),
    ]
    .into_iter()
    .map(|(k, n)| Row::new(vec![ctx.phrase(k).into(), n.into()]))
    .collect();
    tables.push(table(
        ctx,
        "stats-bookings",
        ctx.phrase("stats.bookings"),
        ctx.phrases(&["col.booking_outcome", "col.bookings"]),
        rows,
        qs,
    ));
    let (booked, walk_in) = node.store.channel_waits(from_day, to_day).await?;
    let avg = |w: &crate::store::ChannelWaits| {
        if w.called > 0 {
            duration(ctx.lang, w.total_ms / w.called)
        } else {
            "—".into()
        }
    };
    let longest = |w: &crate::store::ChannelWaits| {
        if w.called > 0 {
            duration(ctx.lang, w.max_ms)
        } else {
            "—".into()
        }
    };
    let rows = [
        ("stats.channel.booked", booked),
        ("stats.channel.walk_in", walk_in),
    ]
    .iter()
    .map(|(k, w)| {
        Row::new(vec![
            ctx.phrase(k).into(),
            w.taken.into(),
            w.called.into(),
            avg(w).into(),
            longest(w).into(),
        ])
    })
    .collect();
    tables.push(table(
        ctx,
        "stats-channels",
        ctx.phrase("stats.waits_by_channel"),
        ctx.phrases(&[
            "col.channel",
            "col.numbers_taken",
            "col.numbers_called",
            "col.average_wait",
            "col.longest_wait",
        ]),
        rows,
        qs,
    ));
    Ok(())
}

/// `GET /supervisor/stats?days=..`.
pub async fn stats_page(StaffCtx(ctx): StaffCtx, Query(q): Query<SupQuery>) -> Response {
    if let Err(r) = allowed(&ctx, false) {
        return r;
    }
    match stats(&ctx, &q).await {
        Ok(s) => ctx.render(StatusCode::OK, "supervisor/stats.html", context! { s => s }),
        Err(e) => ctx.error(&e),
    }
}

fn opt(v: Option<i64>) -> Cell {
    v.map(Cell::from).unwrap_or_default()
}

/// A fleet row's link state: connected, held back for a catalogue version,
/// or refused (and until when this node waits).
fn link_state_cell(ctx: &Ctx, f: &crate::store::FleetRow) -> Cell {
    let zh = ctx.lang == super::web::Lang::Zh;
    let text = crate::link::state::describe(
        f.connected,
        f.refusal.as_ref(),
        zh,
        crate::link::state::clock_time,
    );
    match &f.refusal {
        Some(r) if r.held_back_catalogue.is_some() => Cell::level(text, "yellow"),
        Some(_) => Cell::level(text, "red"),
        None => text.into(),
    }
}

/// The fleet table (this node first) and the security events.
pub async fn fleet_tables(ctx: &Ctx) -> Result<Vec<Table>, Error> {
    let node = &ctx.node;
    let (mut fleet, events) = tokio::try_join!(
        node.store.oversight_fleet(),
        node.store.security_events(500)
    )?;
    let me = node.id.to_string();
    let own_cert = node.uplink.certificate();
    let cert_now = crate::service::uplink::certificate_now_ms();
    let me_row = crate::store::FleetRow {
        node_id: me.clone(),
        cert_serial: own_cert.as_ref().map(|c| c.serial.clone()),
        cert_not_before_ms: own_cert.as_ref().map(|c| c.not_before * 1000),
        cert_not_after_ms: own_cert.as_ref().map(|c| c.not_after * 1000),
        connected: true,
        last_seen_ms: Some(node.now_ms()),
        software: Some(env!("CARGO_PKG_VERSION").to_owned()),
        catalogue_version: Some(node.catalogue().version),
        skew_ms: Some(0),
        ..Default::default()
    };
    match fleet.iter().position(|f| f.node_id == me) {
        Some(i) => {
            let mut mine = fleet.remove(i);
            mine.cert_serial = me_row.cert_serial.clone();
            mine.cert_not_before_ms = me_row.cert_not_before_ms;
            mine.cert_not_after_ms = me_row.cert_not_after_ms;
            fleet.insert(0, mine);
        }
        None => fleet.insert(0, me_row),
    }
    let others = fleet.len() - 1;
    let yes = ctx.phrase("stats.connected");
    let no = ctx.phrase("stats.offline");
    let rows = fleet
        .iter()
        .map(|f| {
            let level = if f.revoked_at_ms.is_some() {
                Some("red")
            } else if f.connected {
                None
            } else {
                Some("yellow")
            };
            let en = ctx.lang == super::web::Lang::En;
            let named = ctx.node.hall_name(&f.node_id, en);
            let mut name = if named == f.node_id {
                named
            } else {
                format!("{named} ({})", f.node_id)
            };
            if f.node_id == me {
                name.push_str(&ctx.phrase("stats.this_node"));
            }
            Row {
                level,
                cells: vec![
                    name.into(),
                    super::i18n::phrase(ctx.lang, &format!("tier.{}", node.tier_of(&f.node_id)))
                        .into(),
                    f.parent
                        .as_deref()
                        .map(|p| ctx.node.hall_name(p, en))
                        .unwrap_or_default()
                        .into(),
                    if f.revoked_at_ms.is_some() {
                        Cell::level(ctx.phrase("stats.revoked"), "red")
                    } else if f.connected {
                        Cell::level(yes.clone(), "green")
                    } else {
                        Cell::level(no.clone(), "yellow")
                    },
                    f.last_seen_ms.map(datetime).unwrap_or_default().into(),
                    f.software.clone().unwrap_or_default().into(),
                    opt(f.catalogue_version),
                    opt(f.backlog),
                    opt(f.lag_ms),
                    opt(f.skew_ms),
                    link_state_cell(ctx, f),
                    certificate_cell(ctx, f, cert_now),
                ],
            }
        })
        .collect();
    let mut fleet_t = table(
        ctx,
        "fleet",
        ctx.phrase("stats.nodes"),
        ctx.phrases(&[
            "col.node",
            "col.tier",
            "col.parent",
            "col.link",
            "col.last_seen",
            "col.version",
            "col.catalogue",
            "col.backlog",
            "col.lag_ms",
            "col.clock_skew_ms",
            "col.link_state",
            "col.certificate",
        ]),
        rows,
        "",
    );
    fleet_t.csv = "/supervisor/export/fleet".into();
    if others == 0 {
        fleet_t.more = Some(ctx.phrase("stats.no_hall_below_has_connected_yet_once_fed"));
    }
    let rows = events
        .iter()
        .map(|e| Row {
            level: Some("red"),
            cells: vec![
                datetime(e.at_ms).into(),
                e.kind.clone().into(),
                e.peer.clone().unwrap_or_default().into(),
                e.remote.clone().unwrap_or_default().into(),
                e.detail.clone().into(),
            ],
        })
        .collect();
    let mut sec = table(
        ctx,
        "security",
        ctx.phrase("stats.security_events"),
        ctx.phrases(&[
            "col.time",
            "col.kind",
            "col.peer",
            "col.address",
            "col.detail",
        ]),
        rows,
        "",
    );
    sec.csv = "/supervisor/export/security".into();
    sec.empty = ctx.phrase("stats.no_security_events");
    Ok(vec![fleet_t, sec])
}

/// When the certificate a node last presented expires, and how it stands:
/// red once expired, yellow when due for renewal or in its last month.
fn certificate_cell(ctx: &Ctx, f: &crate::store::FleetRow, now_ms: i64) -> Cell {
    let (Some(nb), Some(na)) = (f.cert_not_before_ms, f.cert_not_after_ms) else {
        return String::new().into();
    };
    let words = crate::service::uplink::certificate_words(ctx.lang, nb, na, now_ms);
    let text = format!("{} ({words})", datetime(na).get(..10).unwrap_or_default());
    match crate::service::uplink::certificate_state(nb, na, now_ms) {
        "ok" => text.into(),
        "renew" | "expiring" => Cell::level(text, "yellow"),
        _ => Cell::level(text, "red"),
    }
}

/// `GET /supervisor/fleet`.
pub async fn fleet_page(StaffCtx(ctx): StaffCtx) -> Response {
    if let Err(r) = allowed(&ctx, true) {
        return r;
    }
    match fleet_tables(&ctx).await {
        Ok(t) => ctx.render(
            StatusCode::OK,
            "supervisor/fleet.html",
            context! { tables => t },
        ),
        Err(e) => ctx.error(&e),
    }
}
