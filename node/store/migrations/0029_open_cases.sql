-- The open cases a hall holds, in case order: what the look for withheld
-- personal sections (every `[privacy] fill_secs`, ten seconds by default)
-- walks. Without it the look walked every case the hall had ever held, and
-- a district's whole history every ten seconds.
CREATE INDEX cases_open ON cases (holder, id) WHERE closed_at_ms IS NULL;
