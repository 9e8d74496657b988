-- Peering between the roots of two trees (异地通办 across trees).
--
-- What each peer tree offers (its matters open for cross-district handling
-- and its halls, as its root signed them) and whether this tree hands cases
-- to it: one row per peer, written by every node with the transaction that
-- stores the root's `peer_catalogue` directive. A window reads it to accept
-- a matter of the other tree.
CREATE TABLE peer_catalogues (
    peer           TEXT PRIMARY KEY,
    enabled        BIGINT NOT NULL,
    offer          TEXT   NOT NULL,
    peer_signature TEXT   NOT NULL,
    at_ms          BIGINT NOT NULL
);

-- The cases a root handed across to a peer's root: one row per hand-over
-- (the case's version after it), written with the event that records it.
-- `acked_ms` is set once the peer says the case is durable there; a row
-- without it is sent again on the next peering connection.
CREATE TABLE peer_outbox (
    peer     TEXT   NOT NULL,
    case_id  TEXT   NOT NULL,
    version  BIGINT NOT NULL,
    at_ms    BIGINT NOT NULL,
    acked_ms BIGINT,
    PRIMARY KEY (peer, case_id, version)
);

-- What is still to send to a peer, read on every look of the peering link.
CREATE INDEX peer_outbox_open ON peer_outbox (peer, acked_ms);
