-- Format-2 log entries and routing decided when an entry is stored.
--
-- A format-2 entry keeps its body as bytes in `body_bin` (and '' in `body`)
-- and its personal section in `sealed`; format-1 rows keep their JSON text
-- in `body` and are read as they were. BYTEA is PostgreSQL's byte string;
-- SQLite gives the column NUMERIC affinity, which stores a blob unchanged.
ALTER TABLE events ADD COLUMN body_bin BYTEA;
ALTER TABLE events ADD COLUMN sealed BYTEA;

-- Where the entry goes: `up` is 1 when it goes to the parent (written in
-- this node's subtree); `down` is '*' for every child, one child's id, or
-- '' for none. `routed` is 0 on rows stored before these columns existed;
-- the node fills them in when it opens the store.
ALTER TABLE events ADD COLUMN up BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN down TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN routed BIGINT NOT NULL DEFAULT 0;
CREATE INDEX events_down ON events (down, local_seq) WHERE down <> '';

-- The UNIQUE (origin, origin_seq) constraint already indexes these columns.
DROP INDEX events_origin;
