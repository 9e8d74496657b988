-- Online pre-applications (网上预审) at this hall: a citizen fills a
-- matter's application from a phone and gets a reference; a clerk opens
-- it by that reference or the applicant's ID number and accepts it at the
-- window, which makes the case. Kept at the hall only: a pre-application
-- is not a case and does not go up the tree. `body` is the application as
-- JSON (applicant, situations, materials, and each file sent with it by
-- its SHA-256; the files themselves are under the data folder, by hash);
-- `status` is `open` or `accepted`, and `case_id` the case it made.
CREATE TABLE pre_applications (
    reference     TEXT   PRIMARY KEY,
    matter_code   TEXT   NOT NULL,
    id_number     TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    body          TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    changed_at_ms BIGINT NOT NULL,
    case_id       TEXT
);
-- The clerk's look-up by ID number.
CREATE INDEX pre_applications_person ON pre_applications (id_number, status);
