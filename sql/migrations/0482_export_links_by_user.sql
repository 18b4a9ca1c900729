-- 0482: export links are keyed by the person they belong to, (user_id, token_hash): the link
-- names its owner (`<user id>.<secret>`), so a lookup reads one person's rows and the table
-- distributes by user id like every other table of a person's data (sql/citus.py).
ALTER TABLE export_links DROP CONSTRAINT export_links_pkey;
ALTER TABLE export_links ADD PRIMARY KEY (user_id, token_hash);
DROP INDEX export_links_user;
