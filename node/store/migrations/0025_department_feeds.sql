-- Department systems (the back offices of public security, social
-- insurance, market regulation...) reading the hall's case events and
-- posting their staff's actions. None of this is a log entry: it stays at
-- the hall where the credential was issued.

-- A credential of one department at this node: the secret is shown once
-- and only its SHA-256 is kept. A revoked credential is kept, refused.
CREATE TABLE feed_credentials (
    name          TEXT   NOT NULL PRIMARY KEY,
    department    TEXT   NOT NULL,
    node          TEXT   NOT NULL,
    secret_hash   TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    created_by    TEXT   NOT NULL,
    revoked_at_ms BIGINT
);

-- A webhook: the feed of a credential POSTed to a URL, signed with the
-- subscription's own secret (kept, since every delivery is signed with
-- it). `queued_seq` is the local sequence up to which the feed has been
-- put into deliveries, so a restarted node goes on from there.
CREATE TABLE feed_subscriptions (
    id            TEXT   NOT NULL PRIMARY KEY,
    credential    TEXT   NOT NULL,
    url           TEXT   NOT NULL,
    secret        TEXT   NOT NULL,
    queued_seq    BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    created_by    TEXT   NOT NULL
);

-- One POST of a batch of feed items, `(after_seq, upto_seq]`, with the
-- body as sent (a replay sends the same bytes). Open while neither
-- delivered nor dead; a failure counts an attempt and sets the next one
-- later, and the last allowed failure makes it dead (the dead letters).
CREATE TABLE feed_deliveries (
    id              TEXT   NOT NULL PRIMARY KEY,
    subscription    TEXT   NOT NULL,
    after_seq       BIGINT NOT NULL,
    upto_seq        BIGINT NOT NULL,
    items           BIGINT NOT NULL,
    body            TEXT   NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_ms BIGINT,
    delivered_at_ms BIGINT,
    dead_at_ms      BIGINT,
    last_error      TEXT
);
CREATE INDEX feed_deliveries_subscription ON feed_deliveries (subscription, upto_seq);
CREATE INDEX feed_deliveries_created ON feed_deliveries (created_at_ms);
