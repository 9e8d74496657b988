-- A window's submission keys: a client (the clerk's page, a kiosk, a
-- department system) that sends a submission with a key and does not hear
-- the answer (the node was killed, the network dropped) sends it again with
-- the same key and gets the case it made, never a second one. Written in
-- the transaction that stores the case; the request's hash tells a retry
-- from another submission under a reused key.
CREATE TABLE submission_keys (
    username     TEXT   NOT NULL,
    idem_key     TEXT   NOT NULL,
    request_hash TEXT   NOT NULL,
    case_id      TEXT   NOT NULL,
    at_ms        BIGINT NOT NULL,
    PRIMARY KEY (username, idem_key)
);
CREATE INDEX submission_keys_at ON submission_keys (at_ms);
