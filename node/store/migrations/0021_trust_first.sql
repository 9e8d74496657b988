-- Trust first, check later: a result issued at once on the applicant's
-- signed pledge is checked afterwards by an approver. `post_check_due` is
-- the day that check is due while it is open (`YYYY-MM-DD`), NULL when
-- there is none or it was made; `trust` is `pending`, `passed` or
-- `revoked` for such a result and NULL for every other case. No case
-- before this column was issued on a pledge, so nothing is filled in.
ALTER TABLE cases ADD COLUMN post_check_due TEXT;
ALTER TABLE cases ADD COLUMN trust TEXT;
CREATE INDEX cases_post_check ON cases (post_check_due) WHERE post_check_due IS NOT NULL;
