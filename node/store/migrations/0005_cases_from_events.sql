-- A case is folded from its events when it is read; the read model keeps
-- only the columns that queries filter, sort and count on. New rows write
-- '' into `body`; rows of earlier releases are emptied when the node opens
-- the store (and their `open_subs` filled from the JSON they held).
--
-- `open_subs` lists the departments whose parallel sub-case is open, as
-- '|a|b|', for a department's work queue.
ALTER TABLE cases ADD COLUMN open_subs TEXT NOT NULL DEFAULT '';

-- `cases_received` is the leading column of `cases_stats`.
DROP INDEX cases_received;
