//! Halls that closed or moved (`handovers`): which, to whom their open
//! cases go, and which of those cases a node still holds.

use sqlx::Row as _;

use crate::{Store, StoreError, WriteTx};

/// A hall that closed, and the hall that serves its open cases from then on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    /// The hall that closed.
    pub hall: String,
    /// Its heir.
    pub heir: String,
    /// Why.
    pub reason: String,
    /// When the district decided it (ms).
    pub at_ms: i64,
}

/// The states in which a case is still open.
const OPEN: &str = "state NOT IN ('rejected', 'completed', 'withdrawn', 'terminated')";

impl WriteTx<'_> {
    /// Records a handover (with the transaction that stores its directive);
    /// a second one for the same hall changes nothing.
    pub async fn put_handover(&mut self, h: &Handover) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO handovers (hall, heir, reason, at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (hall) DO NOTHING",
        )
        .bind(h.hall.as_str())
        .bind(h.heir.as_str())
        .bind(h.reason.as_str())
        .bind(h.at_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Every handover known here, oldest first.
    pub async fn handovers(&self) -> Result<Vec<Handover>, StoreError> {
        let rows =
            sqlx::query("SELECT hall, heir, reason, at_ms FROM handovers ORDER BY at_ms, hall")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Handover {
                    hall: r.try_get(0)?,
                    heir: r.try_get(1)?,
                    reason: r.try_get(2)?,
                    at_ms: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// The open cases `holder` holds that are served at a hall that
    /// closed: (case number, the closed hall).
    pub async fn cases_to_hand_over(
        &self,
        holder: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT c.id, c.accepting_node FROM cases c JOIN handovers h ON h.hall = c.accepting_node \
             WHERE c.holder = $1 AND {OPEN} ORDER BY c.id"
        ))
        .bind(holder)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The open cases served at `hall` (wherever they are held).
    pub async fn open_cases_served_at(&self, hall: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM cases WHERE accepting_node = $1 AND {OPEN}"
        ))
        .bind(hall)
        .fetch_one(self.pool())
        .await?)
    }

    /// Has `origin` written an audit record of `action` as itself (actor
    /// [`onewindow_domain::log::NODE_ACTOR`])?
    pub async fn node_wrote(&self, origin: &str, action: &str) -> Result<bool, StoreError> {
        let records = self
            .audit_records(
                Some(origin),
                Some(action),
                Some(onewindow_domain::log::NODE_ACTOR),
                10,
            )
            .await?;
        Ok(records
            .iter()
            .any(|(o, _, a)| o == origin && a.action == action))
    }
}
