-- The SMS outbox: one message to the applicant's phone when a case is
-- completed at its window hall (its rating code), written in the
-- transaction that completes the case. A sender task delivers due
-- messages to the configured gateway; a failure counts an attempt, keeps
-- the error and sets the next attempt later (NULL once given up).
CREATE TABLE sms_outbox (
    id              TEXT   NOT NULL PRIMARY KEY,
    case_id         TEXT   NOT NULL,
    phone           TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_ms BIGINT,
    sent_at_ms      BIGINT,
    last_error      TEXT
);
CREATE INDEX sms_outbox_due ON sms_outbox (next_attempt_ms);
CREATE INDEX sms_outbox_created ON sms_outbox (created_at_ms);
