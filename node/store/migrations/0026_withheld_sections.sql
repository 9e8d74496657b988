-- A case event's personal section may reach a hall withheld: the hall keeps
-- the row with no bytes in `sealed` and the section's hash here, which the
-- entry's hash covers, so the entry still verifies. NULL on every row whose
-- section is held (or that has none). A hall that later needs the section
-- fetches it, checks it against this hash, fills `sealed` and clears it; a
-- purge of a closed case's personal data does the reverse.
ALTER TABLE events ADD COLUMN sealed_hash TEXT;

-- The keyed digest of a case's applicant ID number (from the open part of
-- its `received` event; '' when none was written), by which the tiers that
-- hold the applicant withheld find a person's cases.
ALTER TABLE cases ADD COLUMN id_digest TEXT NOT NULL DEFAULT '';
CREATE INDEX cases_id_digest ON cases (id_digest) WHERE id_digest <> '';
