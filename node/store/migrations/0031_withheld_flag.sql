-- Whether this hall's log holds any of a case's personal sections
-- withheld (1) or none (0): set when a batch stores a withheld entry of the
-- case and when a purge removes a section, cleared when a fetch fills the
-- last one. The look for withheld sections (every `[privacy] fill_secs`)
-- searches the open cases flagged for the hall in `cases_withheld`,
-- instead of probing the log for every open case the hall holds (over a
-- second at a hall with a million open cases).
ALTER TABLE cases ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0;
UPDATE cases SET withheld = 1 WHERE id IN (SELECT case_id FROM events
    WHERE case_id <> '' AND sealed IS NULL AND sealed_hash IS NOT NULL);
CREATE INDEX cases_withheld ON cases (holder, id) WHERE closed_at_ms IS NULL AND withheld = 1;
