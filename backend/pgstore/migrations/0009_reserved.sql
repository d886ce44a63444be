-- A placeholder for migration 0009, which another branch adds (issue 18's
-- work in parallel): Migrations needs them numbered without a gap. The
-- merge drops this file for that branch's 0009.
SELECT 1;
