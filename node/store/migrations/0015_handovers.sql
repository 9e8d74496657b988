-- Halls that closed or moved, and the hall that serves their open cases
-- from then on: one row per `handover` directive of the district, written
-- by every node with the transaction that stores the directive. A closed
-- hall accepts nothing more; the holders of its open cases hand them up to
-- the district, which hands them over to the heir.
CREATE TABLE handovers (
    hall   TEXT PRIMARY KEY,
    heir   TEXT   NOT NULL,
    reason TEXT   NOT NULL,
    at_ms  BIGINT NOT NULL
);
