-- How late a case reached the hall that decides it (JSON: from, to,
-- hours, at_ms), NULL when it came in time: the warning lists give its red
-- `forwarding` warning from it. Written with every change of the case; no
-- case was recorded late before this column.
ALTER TABLE cases ADD COLUMN late_forwarding TEXT;
