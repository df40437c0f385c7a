-- A dead letter keeps its job as received: json keeps the text as written, so a job whose
-- message jsonb refuses (a \u0000 in a string, which an internal storage's records cannot
-- keep) can still become a dead letter instead of being refused a second time.
ALTER TABLE dead_letters ALTER COLUMN job TYPE json USING job::json;
