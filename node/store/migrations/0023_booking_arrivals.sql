-- A booked visitor who came after the slot ended: the booking stays a
-- `no_show` (the number taken is a walk-in's), and `late_at_ms` keeps when
-- the code was shown, so the statistics tell a late arrival from one who
-- never came and the hall's rule on repeated no-shows counts only those.
ALTER TABLE bookings ADD COLUMN late_at_ms BIGINT;
