-- Queue waiting times of the halls below, as their status reports
-- summarise them: per hall, day and waiting-time bucket, how many numbers
-- were called, the sum and the longest of their waits. A report replaces
-- what is held of each (hall, day) it names.
CREATE TABLE queue_days (
    hall     TEXT   NOT NULL,
    day      TEXT   NOT NULL,
    bucket   BIGINT NOT NULL,
    n        BIGINT NOT NULL,
    total_ms BIGINT NOT NULL,
    max_ms   BIGINT NOT NULL,
    PRIMARY KEY (hall, day, bucket)
);
