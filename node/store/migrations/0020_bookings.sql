-- Bookings at this hall: a citizen books a slot (a day and a half hour of
-- the opening hours) for a matter and gets a code; checking in with the
-- code within the slot gives a booked ("B") number, which is called before
-- walk-ins. Kept at the hall only: a booking is not a case and does not go
-- up the tree. `start_ms` and `end_ms` are the slot's bounds; `status` is
-- `booked`, `cancelled`, `checked_in` or `no_show` (the slot ended without
-- a check-in); `ticket_id` is the number taken with it.
CREATE TABLE bookings (
    code          TEXT   PRIMARY KEY,
    matter_code   TEXT   NOT NULL,
    day           TEXT   NOT NULL,
    slot_start    TEXT   NOT NULL,
    slot_end      TEXT   NOT NULL,
    start_ms      BIGINT NOT NULL,
    end_ms        BIGINT NOT NULL,
    name          TEXT   NOT NULL,
    id_number     TEXT   NOT NULL,
    id_last4      TEXT   NOT NULL,
    phone         TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    changed_at_ms BIGINT NOT NULL,
    ticket_id     BIGINT
);
-- A slot's places taken, and a person's bookings of a day.
CREATE INDEX bookings_slot ON bookings (day, slot_start, status);
CREATE INDEX bookings_person ON bookings (id_number, day);
-- The sweep of slots ended without a check-in.
CREATE INDEX bookings_open ON bookings (status, end_ms);
