-- Staff accounts kept by the root for halls below it.
--
-- At the root, `tree_staff` holds each such account as last written (the
-- root signs every change and sends the whole account down the hall's
-- branch as a `staff_account` directive). At the hall, the account is a
-- row of `staff` like its own, marked `managed`: it was written by the
-- root, and a later change from the root replaces it.
ALTER TABLE staff ADD COLUMN managed BIGINT NOT NULL DEFAULT 0;

CREATE TABLE tree_staff (
    hall          TEXT   NOT NULL,
    username      TEXT   NOT NULL,
    display_name  TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    department    TEXT,
    password_hash TEXT   NOT NULL,
    active        BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    updated_by    TEXT   NOT NULL,
    PRIMARY KEY (hall, username)
);
