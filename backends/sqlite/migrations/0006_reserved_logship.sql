-- 0006: PLACEHOLDER, empty. Version 6 is reserved for the logship branch
-- (its durable buffer); the audit chain is 0007. Migration versions must
-- follow one another, so the auditchain branch carries this empty file to
-- build and test alone. DROP THIS FILE when merging with logship's 0006:
-- with both present, loadMigrations refuses the set (two version 6s).
SELECT 1;
