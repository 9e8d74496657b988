-- Federation: what a node needs to replicate and to oversee its subtree.

-- Where a replicated entry may go down the tree: the accepting node of its
-- case, or '' for entries meant for every node below (rules from the root).
ALTER TABLE events ADD COLUMN scope TEXT NOT NULL DEFAULT '';

-- Entries that belong to no case (catalogue versions, calendars, node
-- revocations, recalls) carry case_id '' and case_version 0.
DROP INDEX events_case;
CREATE UNIQUE INDEX events_case ON events (case_id, case_version) WHERE case_id <> '';
CREATE INDEX events_origin ON events (origin, origin_seq);

-- The highest entry held of every origin, with its hash (the chain's head).
CREATE TABLE origin_heads (
    origin TEXT PRIMARY KEY,
    seq    BIGINT NOT NULL,
    hash   TEXT   NOT NULL
);

-- Per link: how much of the peer's log this node holds durably (`have`), and
-- how much of this node's log the peer acknowledged (`acked`).
CREATE TABLE link_cursors (
    peer  TEXT PRIMARY KEY,
    have  BIGINT NOT NULL,
    acked BIGINT NOT NULL
);

-- The fleet as this node sees it: itself, its registered children, and what
-- their status reports say of their own subtrees.
CREATE TABLE fleet (
    node_id           TEXT PRIMARY KEY,
    parent            TEXT,
    registered_at_ms  BIGINT,
    revoked_at_ms     BIGINT,
    cert_serial       TEXT,
    connected         BIGINT NOT NULL,
    remote            TEXT,
    last_seen_ms      BIGINT,
    software          TEXT,
    catalogue_version BIGINT,
    backlog           BIGINT,
    acked             BIGINT,
    lag_ms            BIGINT,
    skew_ms           BIGINT
);

-- Refused peers, forged entries, failed signatures.
CREATE TABLE security_events (
    id      BIGINT PRIMARY KEY,
    at_ms   BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    peer    TEXT,
    remote  TEXT,
    detail  TEXT   NOT NULL
);
CREATE INDEX security_events_at ON security_events (at_ms);

-- Read-model columns for oversight statistics.
ALTER TABLE cases ADD COLUMN immediate BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN granted BIGINT;
ALTER TABLE cases ADD COLUMN rating BIGINT;
CREATE INDEX cases_accepting ON cases (accepting_node, received_at_ms);
CREATE INDEX cases_warning ON cases (warning, committed_due);
