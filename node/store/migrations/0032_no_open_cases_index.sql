-- The index of a hall's open cases (migration 0029) goes: the look for
-- withheld personal sections, its only reader, searches `cases_withheld`
-- since migration 0031. Every new case paid for it at every tier.
DROP INDEX IF EXISTS cases_open;
