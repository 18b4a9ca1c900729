-- 0501: audit_log keyed so that it can be distributed by the person it is about, colocated with
-- their other rows (sql/citus.py, docs/scaling.md).
--
-- Citus needs the distribution column in every primary key and unique constraint, and never NULL.
-- Entries about no one (an analyst's aggregate, a marketer's segment preview) carry subject 0,
-- which is no account's id (ids are positive): they land on one shard, and every query that reads
-- a person's entries (`subject_user_id = $1`) or erases them is unchanged.
ALTER TABLE users ADD CONSTRAINT users_user_id_positive CHECK (user_id > 0) NOT VALID;

-- The end-of-operation audit flush (migration 0050) as before, writing 0 for "no subject"
-- (the other audited statements always name their subject).
CREATE OR REPLACE FUNCTION log_operation(
    p_request_id text, p_role text, p_principal_id text, p_reader bigint,
    a_subjects bigint[], a_purposes text[], a_tables text[], a_actions text[],
    d_user bigint, d_ids uuid[], d_surfaces text[], d_kinds text[], d_subject_ids text[],
    d_ranks integer[], d_modes text[], d_records jsonb[], d_snapshots text[], d_generated timestamptz[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    -- Entries naming a user whose account is gone (erased while the operation ran) are dropped;
    -- FOR KEY SHARE waits for a concurrent erasure (which locks the account row first), so none
    -- can outlive it. p_reader: the reader's own user id (role user); their entries name them.
    IF cardinality(a_subjects) > 0 THEN
        INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose,
                               table_name, action)
        SELECT p_request_id, p_role, p_principal_id, coalesce(s, 0), p, t, a
        FROM unnest(a_subjects, a_purposes, a_tables, a_actions) AS x(s, p, t, a)
        WHERE (s IS NULL OR EXISTS (SELECT 1 FROM users u WHERE u.user_id = s FOR KEY SHARE))
          AND (p_reader IS NULL OR EXISTS (SELECT 1 FROM users u WHERE u.user_id = p_reader FOR KEY SHARE));
    END IF;
    IF d_user IS NOT NULL AND cardinality(d_ids) > 0 THEN
        INSERT INTO decisions (user_id, decision_id, surface, subject_kind, subject_id, rank, mode,
                               record, consent_snapshot_id, generated_at)
        SELECT d_user, d, s, k, i, r, m, rec, c, g
        FROM unnest(d_ids, d_surfaces, d_kinds, d_subject_ids, d_ranks, d_modes, d_records,
                    d_snapshots, d_generated) AS x(d, s, k, i, r, m, rec, c, g)
        WHERE EXISTS (SELECT 1 FROM users u WHERE u.user_id = d_user FOR KEY SHARE);
    END IF;
END $$;

UPDATE audit_log SET subject_user_id = 0 WHERE subject_user_id IS NULL;
ALTER TABLE audit_log ALTER COLUMN subject_user_id SET DEFAULT 0;
ALTER TABLE audit_log ALTER COLUMN subject_user_id SET NOT NULL;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (subject_user_id, audit_id, at);
-- The key now leads with the subject: a person's entries (export, erasure) are found through it,
-- and one index fewer is written per entry.
DROP INDEX audit_log_subject;
