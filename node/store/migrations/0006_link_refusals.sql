-- What a link's refusals say of a peer, kept in its fleet row.
--
-- `refusal_code` is the code of the last refusal on the link (either side's),
-- `refusal_count` how many sessions in a row ended refused (0 once a session
-- makes progress), `refused_at_ms` when the last one did, and
-- `next_attempt_ms` when this node dials again (a child's row of its parent
-- only: a parent does not know when its child will). `held_back_catalogue`
-- is the catalogue version entries wait for when the refusal is a hold-back.
ALTER TABLE fleet ADD COLUMN refusal_code TEXT;
ALTER TABLE fleet ADD COLUMN refusal_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE fleet ADD COLUMN refused_at_ms BIGINT;
ALTER TABLE fleet ADD COLUMN next_attempt_ms BIGINT;
ALTER TABLE fleet ADD COLUMN held_back_catalogue BIGINT;
