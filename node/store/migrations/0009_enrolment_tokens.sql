-- One-time enrolment tokens issued by the node that holds the federation
-- CA: each lets one new hall have its first certificate signed. The secret
-- keys the MAC of the hall's signing request (it never travels); a token is
-- used once (`used_ms`, and the serial of the certificate it gave) and not
-- after `expires_ms`.
CREATE TABLE enrolment_tokens (
    token_id    TEXT PRIMARY KEY,
    node_id     TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    used_ms     BIGINT,
    used_serial TEXT
);
