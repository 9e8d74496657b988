-- Per link: the incarnation the peer said in its last Hello (0: none heard).
-- A peer whose store was put back to an older copy starts with another
-- incarnation; a node that hears one other than this resets its cursor to
-- the lowest head the peer started from since. Kept with the cursor so that it outlives
-- this node's own restarts: a district killed while a township was put back
-- must still tell the township's new log from its old one.
ALTER TABLE link_cursors ADD COLUMN peer_incarnation BIGINT NOT NULL DEFAULT 0;

-- This node's own incarnations, one row per process start, in order: its
-- log's head when it started. A store put back to an older copy loses the
-- rows written after the copy, as it loses the log; the start on it adds a
-- row with the copy's head. A peer that last heard one of these learns from
-- the Hello every start since, and so the lowest head the log may have been
-- numbered anew from.
CREATE TABLE incarnations (
    seq           BIGINT PRIMARY KEY,
    incarnation   BIGINT NOT NULL,
    start_head    BIGINT NOT NULL,
    started_at_ms BIGINT NOT NULL
);
