-- 0501: audit_log keyed so that it can be distributed by the person it is about, colocated with
-- their other rows (sql/citus.py, docs/scaling.md).
--
-- Citus needs the distribution column in every primary key and unique constraint, and never NULL.
-- Entries about no one (an analyst's aggregate, a marketer's segment preview) carry subject 0,
-- which is no account's id (ids are positive): they land on one shard, and every query that reads
-- a person's entries (`subject_user_id = $1`) or erases them is unchanged.
ALTER TABLE users ADD CONSTRAINT users_user_id_positive CHECK (user_id > 0) NOT VALID;

CREATE FUNCTION audit_log_subject_or_none() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.subject_user_id := coalesce(NEW.subject_user_id, 0);
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_subject BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_subject_or_none();

UPDATE audit_log SET subject_user_id = 0 WHERE subject_user_id IS NULL;
ALTER TABLE audit_log ALTER COLUMN subject_user_id SET DEFAULT 0;
ALTER TABLE audit_log ALTER COLUMN subject_user_id SET NOT NULL;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (subject_user_id, audit_id, at);
