//! Oversight over a node's subtree (电子监察): which cases are near or past
//! their deadlines today, judged from the stored due dates.
//!
//! Due dates are recomputed and stored on every case event, but a case that
//! nobody touches does not get a new warning level by itself; the levels
//! here are therefore worked out again from the stored dates and today's
//! date, with the same rules as `Case::warning`: red when a due date has
//! passed, yellow within two working days of the committed due date.

use chrono::NaiveDate;

use super::Node;
use crate::error::Error;
use onewindow_domain::case::Warning;
use onewindow_domain::deadline::working_days_between;
use onewindow_store::{CaseBrief, Scope};

/// Working days before the committed due date at which a case turns yellow.
pub const YELLOW_WORKING_DAYS: i64 = 2;

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
        let cal = self.calendar();
        let mut last = today;
        for d in today.iter_days().take(40) {
            if working_days_between(&cal, today, d) <= YELLOW_WORKING_DAYS {
                last = d;
            } else {
                break;
            }
        }
        last
    }

    /// The warning level of a running case today, from its stored dates.
    pub fn live_warning(&self, b: &CaseBrief, today: &str, horizon: &str) -> Warning {
        let open = onewindow_store::OPEN_STATES.contains(&b.state.as_str());
        if !open || b.suspended {
            return Warning::Green;
        }
        let past = |d: &Option<String>| d.as_deref().is_some_and(|d| d < today);
        if past(&b.committed_due)
            || past(&b.statutory_due)
            || past(&b.stage_due)
            || b.warning == "red"
        {
            return Warning::Red;
        }
        if b.committed_due.as_deref().is_some_and(|d| d <= horizon) || b.warning == "yellow" {
            return Warning::Yellow;
        }
        Warning::Green
    }

    /// Running cases near (yellow) or past (red) a deadline today, most
    /// urgent first.
    pub async fn deadline_watch(&self) -> Result<Vec<(CaseBrief, Warning)>, Error> {
        let today = self.today();
        let horizon = self.yellow_horizon(today).format("%Y-%m-%d").to_string();
        let today = today.format("%Y-%m-%d").to_string();
        let rows = self
            .store
            .deadline_watch(&self.oversight_scope(), &today, &horizon)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|b| {
                let w = self.live_warning(&b, &today, &horizon);
                (w != Warning::Green).then_some((b, w))
            })
            .collect())
    }
}
