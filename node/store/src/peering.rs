//! Peering between two trees' roots: what each peer tree offers
//! (`peer_catalogues`, at every node) and the cases a root handed across and
//! whether the peer took them (`peer_outbox`, at the root).

use sqlx::Row as _;

use crate::{Store, StoreError, WriteTx};

/// A peer tree's offer as this tree's root published it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCatalogueRow {
    /// The other tree's root.
    pub peer: String,
    /// Whether this tree hands cases to it.
    pub enabled: bool,
    /// The offer (JSON text, as the peer's root signed it).
    pub offer: String,
    /// The peer root's signature over `offer`, hex.
    pub peer_signature: String,
    /// When this tree's root published it (ms).
    pub at_ms: i64,
}

/// A case handed across that the peer has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The peer's root.
    pub peer: String,
    /// Case number.
    pub case_id: String,
    /// The case's version after the hand-over.
    pub version: u64,
}

impl WriteTx<'_> {
    /// Keeps a peer tree's offer (with the transaction that stores its
    /// directive), replacing the one before.
    pub async fn put_peer_catalogue(&mut self, row: &PeerCatalogueRow) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM peer_catalogues WHERE peer = $1")
            .bind(row.peer.as_str())
            .execute(self.conn())
            .await?;
        sqlx::query(
            "INSERT INTO peer_catalogues (peer, enabled, offer, peer_signature, at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(row.peer.as_str())
        .bind(i64::from(row.enabled))
        .bind(row.offer.as_str())
        .bind(row.peer_signature.as_str())
        .bind(row.at_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records a case handed across to `peer` (with the transaction that
    /// writes the event); a second time changes nothing.
    pub async fn put_peer_outbox(
        &mut self,
        peer: &str,
        case_id: &str,
        version: u64,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO peer_outbox (peer, case_id, version, at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (peer, case_id, version) DO NOTHING",
        )
        .bind(peer)
        .bind(case_id)
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .bind(at_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Marks what the peer acknowledged of a case, up to `version`.
    pub async fn ack_peer_outbox(
        &mut self,
        peer: &str,
        case_id: &str,
        version: u64,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE peer_outbox SET acked_ms = $1 \
             WHERE peer = $2 AND case_id = $3 AND version <= $4 AND acked_ms IS NULL",
        )
        .bind(at_ms)
        .bind(peer)
        .bind(case_id)
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Every peer tree's offer kept here.
    pub async fn peer_catalogues(&self) -> Result<Vec<PeerCatalogueRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT peer, enabled, offer, peer_signature, at_ms FROM peer_catalogues ORDER BY peer",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PeerCatalogueRow {
                    peer: r.try_get(0)?,
                    enabled: r.try_get::<i64, _>(1)? != 0,
                    offer: r.try_get(2)?,
                    peer_signature: r.try_get(3)?,
                    at_ms: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// The cases handed across to `peer` that it has not acknowledged, in
    /// the order they were handed.
    pub async fn peer_outbox(&self, peer: &str) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT peer, case_id, version FROM peer_outbox \
             WHERE peer = $1 AND acked_ms IS NULL ORDER BY at_ms, case_id, version",
        )
        .bind(peer)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    peer: r.try_get(0)?,
                    case_id: r.try_get(1)?,
                    version: u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
                })
            })
            .collect()
    }
}
