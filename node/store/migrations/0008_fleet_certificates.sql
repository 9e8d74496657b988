-- The certificate each linked peer presented, kept in its fleet row so
-- that the fleet shows when every link's certificate expires: its period
-- (ms since the epoch) beside its serial (`cert_serial`, a column since
-- migration 0002). Written when a session starts.
ALTER TABLE fleet ADD COLUMN cert_not_before_ms BIGINT;
ALTER TABLE fleet ADD COLUMN cert_not_after_ms BIGINT;
