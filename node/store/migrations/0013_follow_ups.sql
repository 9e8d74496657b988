-- A bad rating (4 or 5) opens a follow-up that the hall must answer within
-- 15 working days: the day it is due while it is open (`YYYY-MM-DD`), NULL
-- when there is none or it was answered. Cases rated before this column
-- are filled in when a node opens its store.
ALTER TABLE cases ADD COLUMN follow_up_due TEXT;
CREATE INDEX cases_follow_up ON cases (follow_up_due) WHERE follow_up_due IS NOT NULL;
