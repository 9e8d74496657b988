-- Supervision statistics read a range of receipt times and group by hall,
-- matter, department, state and rating; this index holds every column they
-- need, so they are answered from the index alone on both backends.
CREATE INDEX cases_stats ON cases (
    received_at_ms, accepting_node, matter_code, department, state,
    immediate, rating, accepted_at_ms, closed_at_ms
);
