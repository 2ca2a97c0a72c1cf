-- 0014: how a logship segment's data is stored (codec): 0, the records'
-- encoding as it is (every segment before this migration); 1, that
-- encoding compressed as one S2 block, when smaller (see
-- backends/sqlite/logship.go).
ALTER TABLE logship_seg ADD COLUMN codec INTEGER NOT NULL DEFAULT 0 CHECK (codec IN (0, 1));
