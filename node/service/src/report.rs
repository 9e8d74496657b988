//! A report over a period for a node's subtree, or one hall's below it:
//! volume by tier, matter, department and hall, the immediate share,
//! handling and queue waiting times, and ratings. The command line prints
//! it as tables or CSV; the supervisor's statistics pages draw the same
//! figures from the same store queries.

use chrono::{Duration, NaiveDate};
use onewindow_store::{CHINA_OFFSET_MS, DAY_MS, Distribution, Scope};
use serde::{Deserialize, Serialize};

use super::Node;
use crate::error::Error;

/// Longest period of one report, in days.
pub const MAX_REPORT_DAYS: i64 = 366;

/// Cases of one group in a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportCount {
    /// The group: a tier, matter code, department code or hall id.
    pub key: String,
    /// Its name in Chinese (empty where the key is the name).
    pub name_zh: String,
    /// Its name in English.
    pub name_en: String,
    /// Cases received.
    pub cases: i64,
    /// Of which immediate matters (completed at the window).
    pub immediate: i64,
}

/// Times in a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeSummary {
    /// How many.
    pub count: i64,
    /// Mean, ms (none when there are none).
    pub mean_ms: Option<i64>,
    /// Longest, ms.
    pub max_ms: Option<i64>,
}

impl From<&Distribution> for TimeSummary {
    fn from(d: &Distribution) -> Self {
        TimeSummary {
            count: d.count,
            mean_ms: (d.count > 0).then(|| d.total_ms / d.count),
            max_ms: (d.count > 0).then_some(d.max_ms),
        }
    }
}

/// A report over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    /// The node that made it.
    pub node: String,
    /// The hall whose subtree it covers (the node's own when none was
    /// asked for).
    pub hall: String,
    /// First day (China time), `YYYY-MM-DD`.
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// Cases received in the period.
    pub cases: i64,
    /// Of which immediate matters.
    pub immediate: i64,
    /// `immediate` as a share of `cases`, in percent (none without cases).
    pub immediate_percent: Option<f64>,
    /// By the tier of the accepting hall, from the top.
    pub by_tier: Vec<ReportCount>,
    /// By matter, busiest first.
    pub by_matter: Vec<ReportCount>,
    /// By implementing department, busiest first.
    pub by_department: Vec<ReportCount>,
    /// By accepting hall, busiest first.
    pub by_hall: Vec<ReportCount>,
    /// Cases received in the period by their state now.
    pub by_state: Vec<ReportCount>,
    /// Acceptance to closing of the cases received in the period and
    /// closed.
    pub handling: TimeSummary,
    /// Queue waiting times (number taken to called) at the halls.
    pub waiting: TimeSummary,
    /// Ratings by score, 1 (very satisfied) to 5 (very dissatisfied).
    pub ratings: Vec<i64>,
    /// Scores 1 and 2 as a share of all ratings, in percent.
    pub satisfied_percent: Option<f64>,
    /// Bad ratings (4 and 5), each of which opens a follow-up.
    pub bad_ratings: i64,
}

fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

impl Node {
    /// The report of `from..=to` (China days) for this node's subtree, or
    /// for the subtree of `hall` (a hall at or below this node).
    pub async fn report(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        hall: Option<&federation::NodeId>,
    ) -> Result<Report, Error> {
        let days = (to - from).num_days() + 1;
        if !(1..=MAX_REPORT_DAYS).contains(&days) {
            return Err(Error::bad_request(
                "bad_period",
                &[("max", &MAX_REPORT_DAYS)],
            ));
        }
        let scope = match hall {
            None => self.oversight_scope(),
            Some(h) if h.is_in_subtree_of(&self.id) => Scope::Subtree(h.to_string()),
            Some(h) => {
                return Err(Error::bad_request("hall_out_of_scope", &[("hall", &h)]));
            }
        };
        let day_ms = |d: NaiveDate| {
            d.signed_duration_since(chrono::DateTime::UNIX_EPOCH.date_naive())
                .num_days()
                * DAY_MS
                - CHINA_OFFSET_MS
        };
        let (from_ms, to_ms) = (day_ms(from), day_ms(to + Duration::days(1)));
        let (from_day, to_day) = (
            from.format("%Y-%m-%d").to_string(),
            to.format("%Y-%m-%d").to_string(),
        );
        let within = hall.map(federation::NodeId::as_str);
        let onewindow_store::PeriodFigures {
            by_day,
            by_matter,
            by_department: by_dept,
            handling,
            ratings,
            states,
            waits,
            ..
        } = self
            .store
            .period_figures(&scope, (from_ms, to_ms), (&from_day, &to_day), within)
            .await?;
        let cat = self.catalogue();
        let count = |key: String, zh: String, en: String, cases: i64, immediate: i64| ReportCount {
            key,
            name_zh: zh,
            name_en: en,
            cases,
            immediate,
        };
        let mut halls: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for r in &by_day {
            let e = halls.entry(r.hall.clone()).or_default();
            e.0 += r.cases;
            e.1 += r.immediate;
        }
        let tiers = &self.config.node.tiers;
        let mut by_tier: Vec<ReportCount> = tiers
            .iter()
            .map(|t| count(t.clone(), String::new(), String::new(), 0, 0))
            .collect();
        for (h, (cases, imm)) in &halls {
            let tier = self.tier_of(h);
            if let Some(row) = by_tier.iter_mut().find(|r| r.key == tier) {
                row.cases += cases;
                row.immediate += imm;
            }
        }
        let mut by_hall: Vec<ReportCount> = halls
            .into_iter()
            .map(|(h, (cases, imm))| {
                let (zh, en) = (self.hall_name(&h, false), self.hall_name(&h, true));
                count(h, zh, en, cases, imm)
            })
            .collect();
        by_hall.sort_by(|a, b| b.cases.cmp(&a.cases).then_with(|| a.key.cmp(&b.key)));
        let cases: i64 = by_hall.iter().map(|r| r.cases).sum();
        let immediate: i64 = by_hall.iter().map(|r| r.immediate).sum();
        let by_matter = by_matter
            .into_iter()
            .map(|r| {
                let (zh, en) = cat
                    .matter(&r.key)
                    .map(|m| (m.name_zh.clone(), m.name_en.clone()))
                    .unwrap_or_default();
                count(r.key, zh, en, r.cases, r.immediate)
            })
            .collect();
        let by_department = by_dept
            .into_iter()
            .map(|r| {
                let (zh, en) = cat
                    .departments
                    .get(&r.key)
                    .map(|d| (d.name_zh.clone(), d.name_en.clone()))
                    .unwrap_or_default();
                count(r.key, zh, en, r.cases, r.immediate)
            })
            .collect();
        let by_state = states
            .into_iter()
            .map(|(s, n)| count(s, String::new(), String::new(), n, 0))
            .collect();
        let rated: i64 = ratings.iter().sum();
        Ok(Report {
            node: self.id.to_string(),
            hall: within.unwrap_or(self.id.as_str()).to_owned(),
            from: from_day,
            to: to_day,
            cases,
            immediate,
            immediate_percent: percent(immediate, cases),
            by_tier,
            by_matter,
            by_department,
            by_hall,
            by_state,
            handling: TimeSummary::from(&handling),
            waiting: TimeSummary::from(&waits),
            ratings: ratings.to_vec(),
            satisfied_percent: percent(ratings[0] + ratings[1], rated),
            bad_ratings: ratings[3] + ratings[4],
        })
    }
}
