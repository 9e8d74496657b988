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
use onewindow_domain::case::Warning;
use onewindow_domain::deadline::warning_level;
use onewindow_store::{CaseBrief, Scope};

pub use onewindow_domain::deadline::YELLOW_WORKING_DAYS;

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

    /// The last date whose committed due date makes a case yellow today.
    pub fn yellow_horizon(&self, today: NaiveDate) -> NaiveDate {
        onewindow_domain::deadline::yellow_horizon(&self.calendar(), today)
    }

    /// The warning level of a running case today, from its stored dates, by
    /// the one rule ([`warning_level`]); never lower than the level stored
    /// with its last event.
    pub fn live_warning(&self, b: &CaseBrief, today: NaiveDate, horizon: NaiveDate) -> Warning {
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
            horizon,
        );
        let stored = match b.warning.as_str() {
            "red" => Warning::Red,
            "yellow" => Warning::Yellow,
            _ => Warning::Green,
        };
        live.max(stored)
    }

    /// Running cases near (yellow) or past (red) a deadline today, most
    /// urgent first.
    pub async fn deadline_watch(&self) -> Result<Vec<(CaseBrief, Warning)>, Error> {
        let today = self.today();
        let horizon = self.yellow_horizon(today);
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
                let w = self.live_warning(&b, today, horizon);
                (w != Warning::Green).then_some((b, w))
            })
            .collect())
    }
}
