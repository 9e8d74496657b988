-- A case event's personal section may reach a hall withheld: the hall keeps
-- the row with no bytes in `sealed` and the section's hash here, which the
-- entry's hash covers, so the entry still verifies. NULL on every row whose
-- section is held (or that has none). A hall that later needs the section
-- fetches it, checks it against this hash, fills `sealed` and clears it; a
-- purge of a closed case's personal data does the reverse.
ALTER TABLE events ADD COLUMN sealed_hash TEXT;
