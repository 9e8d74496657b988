-- Hall names in the fleet: each node's status report carries its hall's
-- names and those of the nodes below it, so pages name halls, not node ids.
ALTER TABLE fleet ADD COLUMN name_zh TEXT;
ALTER TABLE fleet ADD COLUMN name_en TEXT;
