-- SQLite only (its orders' brand key checked at commit, see the SQLite migration): PostgreSQL
-- keeps no per-statement undo journal, so nothing changes here.
SELECT 1;
