-- A case's appeals against its warnings and the district's decisions on
-- them, as JSON (NULL when there are none): the warning lists give each
-- warning's status from it without reading the case's events. Written
-- with every change of the case; no case had an appeal before this column.
ALTER TABLE cases ADD COLUMN appeals TEXT;
