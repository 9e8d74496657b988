//! Oversight over a node's subtree (电子监察): which cases are near or past
//! their deadlines today, judged from the stored due dates.
//!
//! Due dates are recomputed and stored on every case event, but a case that
//! nobody touches does not get a new warning level by itself; the levels
//! here are therefore worked out again from the stored dates and today's
//! date, by the one rule of `onewindow_domain::deadline::warning_level`
//! that `Case::warning` also uses.

use chrono::NaiveDate;

use super::Node;
use crate::error::Error;
use onewindow_domain::case::{Case, Warning, WarningRule, WarningStatus};
use onewindow_domain::deadline::{TimeUnit, warning_level, yellow_horizon};
use onewindow_store::{CaseBrief, Scope};
use std::collections::BTreeSet;

pub use onewindow_domain::deadline::YELLOW_PERCENT;

impl Node {
    /// The cases this node oversees: all of them at the root, otherwise
    /// those accepted in its subtree.
    pub fn oversight_scope(&self) -> Scope {
        if self.id.depth() == 0 {
            Scope::All
        } else {
            Scope::Subtree(self.id.to_string())
        }
    }

    /// The tier name of a node id (by its depth), or `""` if deeper than
    /// the configured tiers.
    pub fn tier_of(&self, node_id: &str) -> String {
        let depth = node_id.split('.').count().saturating_sub(1);
        self.config
            .node
            .tiers
            .get(depth)
            .cloned()
            .unwrap_or_default()
    }

    /// The yellow share of a matter's committed limit (its own, or
    /// [`YELLOW_PERCENT`]).
    pub fn yellow_percent(&self, matter_code: &str) -> u32 {
        self.catalogue()
            .matter(matter_code)
            .map_or(YELLOW_PERCENT, |m| m.yellow_percent)
    }

    /// The last committed due date that makes a running case of this
    /// matter yellow today (by the published catalogue's limit and share;
    /// a matter no longer in it is yellow on its due day only).
    pub fn yellow_horizon(&self, matter_code: &str, today: NaiveDate) -> NaiveDate {
        let cal = self.calendar();
        match self.catalogue().matter(matter_code) {
            Some(m) => yellow_horizon(
                &cal,
                today,
                m.committed_limit.n,
                m.committed_limit.unit,
                m.yellow_percent,
            ),
            None => yellow_horizon(&cal, today, 1, TimeUnit::WorkingDays, YELLOW_PERCENT),
        }
    }

    /// The latest of every matter's yellow horizon today: a case due after
    /// it is green whatever its matter.
    pub fn widest_yellow_horizon(&self, today: NaiveDate) -> NaiveDate {
        let cal = self.calendar();
        let limits: BTreeSet<(u32, TimeUnit, u32)> = self
            .catalogue()
            .matters
            .values()
            .map(|m| {
                (
                    m.committed_limit.n,
                    m.committed_limit.unit,
                    m.yellow_percent,
                )
            })
            .collect();
        limits
            .into_iter()
            .map(|(n, unit, pct)| yellow_horizon(&cal, today, n, unit, pct))
            .max()
            .unwrap_or(today)
    }

    /// The warning level of a running case today, from its stored dates, by
    /// the one rule ([`warning_level`]) with its matter's yellow share; never
    /// lower than the level stored with its last event.
    pub fn live_warning(&self, b: &CaseBrief, today: NaiveDate) -> Warning {
        let open = onewindow_store::OPEN_STATES.contains(&b.state.as_str());
        if !open || b.suspended {
            return Warning::Green;
        }
        let due = |d: &Option<String>| {
            d.as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        };
        let live = warning_level(
            [
                due(&b.statutory_due),
                due(&b.committed_due),
                due(&b.stage_due),
            ],
            due(&b.committed_due),
            today,
            self.yellow_horizon(&b.matter_code, today),
        );
        let stored = Warning::parse(&b.warning).unwrap_or(Warning::Green);
        live.max(stored)
    }

    /// Working days from `today` to a running case's committed due date
    /// (0 on the due day, negative once past), for the lists' "days left".
    pub fn working_days_left(&self, b: &CaseBrief, today: NaiveDate) -> Option<i64> {
        let due = NaiveDate::parse_from_str(b.committed_due.as_deref()?, "%Y-%m-%d").ok()?;
        Some(onewindow_domain::deadline::working_days_left(
            &self.calendar(),
            today,
            due,
        ))
    }

    /// The last follow-up due day that is yellow today: the last 20% of
    /// its 15 working days, by the rule of the deadline lists.
    fn follow_up_horizon(&self, today: NaiveDate) -> NaiveDate {
        yellow_horizon(
            &self.calendar(),
            today,
            onewindow_domain::case::FOLLOW_UP_WORKING_DAYS,
            TimeUnit::WorkingDays,
            20,
        )
    }

    /// The warnings a case has today, by rule: its deadline's level while
    /// it runs, its bad rating's follow-up while unanswered. Only yellow
    /// and red are listed. The lists and an appeal's check use the same
    /// rules.
    pub fn live_warnings(&self, case: &Case) -> Vec<(WarningRule, Warning)> {
        let today = self.today();
        let cal = self.calendar();
        let mut out = Vec::new();
        let row = self.case_row(case);
        let b = CaseBrief::from(&row);
        let deadline = self.live_warning(&b, today);
        if deadline != Warning::Green {
            out.push((WarningRule::Deadline, deadline));
        }
        if let Some(due) = case.follow_up_due(&cal) {
            let w = warning_level(
                [Some(due), None, None],
                Some(due),
                today,
                self.follow_up_horizon(today),
            );
            if w != Warning::Green {
                out.push((WarningRule::FollowUp, w));
            }
        }
        if case.late_forwarding.is_some() && !case.state.is_final() {
            out.push((WarningRule::Forwarding, Warning::Red));
        }
        out
    }

    /// The open post-check of a trust-first result: the day it is due and
    /// its level today, by the same rule as a case's deadline (yellow in
    /// the last share of its `check_days`, its matter's share; red once
    /// the day has passed). `None` when no post-check is open.
    pub fn post_check_warning(&self, case: &Case) -> Option<(NaiveDate, Warning)> {
        let cal = self.calendar();
        let due = case.post_check_due(&cal)?;
        let days = case.trust.as_ref()?.check_days;
        let today = self.today();
        let horizon = yellow_horizon(
            &cal,
            today,
            days,
            TimeUnit::WorkingDays,
            self.yellow_percent(&case.received.matter_code),
        );
        Some((
            due,
            warning_level([Some(due), None, None], Some(due), today, horizon),
        ))
    }

    /// The first day a listed warning held at `level` by its rule: for red,
    /// the day after its earliest due date; for yellow, the day its
    /// matter's yellow horizon first reached the committed due date (a
    /// walk back over the yellow window, at most a year).
    pub fn warning_since(&self, b: &CaseBrief, rule: WarningRule, level: Warning) -> NaiveDate {
        let today = self.today();
        let parse = |d: &Option<String>| {
            d.as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        };
        let dues = match rule {
            WarningRule::Deadline => [
                parse(&b.statutory_due),
                parse(&b.committed_due),
                parse(&b.stage_due),
            ],
            WarningRule::FollowUp => [parse(&b.follow_up_due), None, None],
            // Red from the day the late arrival was recorded.
            WarningRule::Forwarding => {
                return b
                    .late_forwarding
                    .as_ref()
                    .map_or(today, |l| onewindow_domain::case::china_date(l.at_ms));
            }
        };
        if level == Warning::Red {
            // Red from the day after a due date passes.
            return dues
                .iter()
                .flatten()
                .min()
                .and_then(|d| d.succ_opt())
                .map_or(today, |d| d.min(today));
        }
        let on = |day: NaiveDate| {
            let horizon = match rule {
                WarningRule::Deadline => self.yellow_horizon(&b.matter_code, day),
                WarningRule::FollowUp | WarningRule::Forwarding => self.follow_up_horizon(day),
            };
            warning_level(
                dues,
                dues[if rule == WarningRule::Deadline { 1 } else { 0 }],
                day,
                horizon,
            )
        };
        let mut since = today;
        for _ in 0..366 {
            let Some(before) = since.pred_opt() else {
                break;
            };
            if on(before) < level {
                break;
            }
            since = before;
        }
        since
    }

    /// Cases whose bad rating's follow-up is open and near (yellow: in
    /// the last 20% of its 15 working days, by the rule of the deadline
    /// lists) or past (red) its due day today, with that day; earliest
    /// first.
    pub async fn follow_up_watch(&self) -> Result<Vec<(CaseBrief, NaiveDate, Warning)>, Error> {
        let today = self.today();
        let horizon = self.follow_up_horizon(today);
        let rows = self
            .store
            .follow_up_watch(
                &self.oversight_scope(),
                &horizon.format("%Y-%m-%d").to_string(),
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|b| {
                let due =
                    NaiveDate::parse_from_str(b.follow_up_due.as_deref()?, "%Y-%m-%d").ok()?;
                let w = warning_level([Some(due), None, None], Some(due), today, horizon);
                (w != Warning::Green).then_some((b, due, w))
            })
            .collect())
    }

    /// Fills in the follow-up due day of cases rated badly before it was
    /// kept (stores written before migration 0013). Run when the node opens.
    pub(crate) async fn fill_follow_ups(&self) -> Result<usize, Error> {
        let ids = self.store.follow_ups_to_fill().await?;
        let mut filled = 0;
        for id in ids {
            let Some(row) = self.store.case(&id).await? else {
                continue;
            };
            let new = self.case_row_owned(row.case);
            if new.follow_up_due.is_some() {
                let mut w = self.store.write().await?;
                w.put_case(new);
                w.commit().await?;
                filled += 1;
            }
        }
        Ok(filled)
    }

    /// The hall a warning is held against: the one that handed the case up
    /// late (rule `forwarding`), else the one that holds the case.
    pub fn responsible_hall(b: &CaseBrief, rule: WarningRule) -> String {
        match (rule, &b.late_forwarding) {
            (WarningRule::Forwarding, Some(l)) => l.from.clone(),
            _ => b.holder.clone().unwrap_or_else(|| b.accepting_node.clone()),
        }
    }

    /// When each hall of the subtree was last heard from (ms), for
    /// [`Node::warning_status`]; this node is heard from now.
    pub async fn last_heard(&self) -> Result<std::collections::HashMap<String, i64>, Error> {
        let mut out: std::collections::HashMap<String, i64> = self
            .store
            .oversight_fleet()
            .await?
            .into_iter()
            .filter_map(|f| Some((f.node_id, f.last_seen_ms?)))
            .collect();
        out.insert(self.id.to_string(), self.now_ms());
        Ok(out)
    }

    /// A listed warning's status: by its appeal (`appealed`, `revoked`),
    /// `escalated` once an issued red one has stood more than
    /// [`onewindow_domain::case::ESCALATE_AFTER_WORKING_DAYS`] working
    /// days, `pending` while the responsible hall has not been heard from
    /// since the day it arose, else `issued`.
    pub fn warning_status(
        &self,
        b: &CaseBrief,
        rule: WarningRule,
        level: Warning,
        since: NaiveDate,
        heard: &std::collections::HashMap<String, i64>,
    ) -> WarningStatus {
        let today = self.today();
        let s = WarningStatus::on(b.appeal(rule, level), level, since, today, &self.calendar());
        if s != WarningStatus::Issued {
            return s;
        }
        let hall = Self::responsible_hall(b, rule);
        let arose_ms = since
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis() - 8 * 3_600_000);
        match heard.get(&hall) {
            Some(&seen) if seen >= arose_ms => WarningStatus::Issued,
            _ => WarningStatus::Pending,
        }
    }

    /// Running cases that reached the hall that decides them late (a red
    /// `forwarding` warning each), the latest received first.
    pub async fn forwarding_watch(&self) -> Result<Vec<CaseBrief>, Error> {
        Ok(self.store.forwarding_watch(&self.oversight_scope()).await?)
    }

    /// Running cases near (yellow) or past (red) a deadline today, most
    /// urgent first.
    pub async fn deadline_watch(&self) -> Result<Vec<(CaseBrief, Warning)>, Error> {
        let today = self.today();
        let horizon = self.widest_yellow_horizon(today);
        let rows = self
            .store
            .deadline_watch(
                &self.oversight_scope(),
                &today.format("%Y-%m-%d").to_string(),
                &horizon.format("%Y-%m-%d").to_string(),
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|b| {
                let w = self.live_warning(&b, today);
                (w != Warning::Green).then_some((b, w))
            })
            .collect())
    }
}
