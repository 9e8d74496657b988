-- OneWindow node schema. Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Integers are BIGINT, times are milliseconds since the epoch (UTC), dates are
-- 'YYYY-MM-DD' text, documents are JSON text, hashes are hex text.

CREATE TABLE node_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every event this node stores, in one local sequence.
CREATE TABLE events (
    local_seq    BIGINT PRIMARY KEY,
    origin       TEXT   NOT NULL,
    origin_seq   BIGINT NOT NULL,
    case_id      TEXT   NOT NULL,
    case_version BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    actor        TEXT   NOT NULL,
    at_ms        BIGINT NOT NULL,
    body         TEXT   NOT NULL,
    prev_hash    TEXT   NOT NULL,
    hash         TEXT   NOT NULL,
    UNIQUE (origin, origin_seq)
);
CREATE UNIQUE INDEX events_case ON events (case_id, case_version);

-- Read model: the current state of each case, derived from its events.
CREATE TABLE cases (
    id              TEXT PRIMARY KEY,
    matter_code     TEXT   NOT NULL,
    department      TEXT   NOT NULL,
    accepting_node  TEXT   NOT NULL,
    holder          TEXT,
    state           TEXT   NOT NULL,
    suspended       BIGINT NOT NULL,
    applicant_last4 TEXT   NOT NULL,
    received_at_ms  BIGINT NOT NULL,
    accepted_at_ms  BIGINT,
    closed_at_ms    BIGINT,
    statutory_due   TEXT,
    committed_due   TEXT,
    stage_due       TEXT,
    warning         TEXT   NOT NULL,
    version         BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL,
    body            TEXT   NOT NULL
);
CREATE INDEX cases_state ON cases (state, committed_due);
CREATE INDEX cases_department ON cases (department, state);
CREATE INDEX cases_matter ON cases (matter_code);
CREATE INDEX cases_received ON cases (received_at_ms);

-- Per-hall, per-day case number sequence.
CREATE TABLE case_sequences (
    hall TEXT   NOT NULL,
    day  TEXT   NOT NULL,
    last BIGINT NOT NULL,
    PRIMARY KEY (hall, day)
);

-- Catalogue versions: draft -> published -> retired. A published body is never rewritten.
CREATE TABLE catalogue_versions (
    version         BIGINT PRIMARY KEY,
    state           TEXT   NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    published_at_ms BIGINT,
    retired_at_ms   BIGINT,
    sha256          TEXT   NOT NULL,
    body            TEXT   NOT NULL
);

-- Holiday calendars, one row per year.
CREATE TABLE calendars (
    year          BIGINT PRIMARY KEY,
    updated_at_ms BIGINT NOT NULL,
    body          TEXT   NOT NULL
);

CREATE TABLE staff (
    username      TEXT PRIMARY KEY,
    display_name  TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    department    TEXT,
    password_hash TEXT   NOT NULL,
    active        BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    username      TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at_ms);

-- Queue numbers at this hall.
CREATE TABLE queue_tickets (
    id           BIGINT PRIMARY KEY,
    day          TEXT   NOT NULL,
    number       TEXT   NOT NULL,
    appointment  TEXT,
    status       TEXT   NOT NULL,
    taken_at_ms  BIGINT NOT NULL,
    called_at_ms BIGINT,
    window_no    TEXT,
    called_by    TEXT,
    served_at_ms BIGINT,
    wait_ms      BIGINT,
    UNIQUE (day, number)
);
CREATE INDEX queue_waiting ON queue_tickets (day, status, id);
