-- Every new case row is written into each index of `cases`, at every tier
-- it reaches; six secondary indexes made the read model most of the cost of
-- storing a case event. Three remain:
--
-- * `cases_work (state, department, committed_due)`: the work queues
--   (states, optionally a department, most urgent first), deadline watch
--   (open states), results waiting (one state); it replaces
--   `cases_state (state, committed_due)` and `cases_department
--   (department, state)`. Lists filtered by warning or by matter go through
--   it with their states, or through `cases_stats`.
-- * `cases_stats`: statistics over a range of receipt times (covering).
-- * `cases_accepting (accepting_node, received_at_ms)`: a hall's cases.
DROP INDEX cases_state;
DROP INDEX cases_department;
DROP INDEX cases_warning;
DROP INDEX cases_matter;
CREATE INDEX cases_work ON cases (state, department, committed_due);
