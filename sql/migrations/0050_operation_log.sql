-- 0050: one round trip at the end of every operation for its audit entries and decision records.
--
-- Both logs record what was already answered. They are written with synchronous_commit off for
-- this transaction only: the commit does not wait for the WAL flush (the slowest part of a
-- personalized read), at the price that a crash of PostgreSQL itself can lose the last moments
-- of log rows (at most wal_writer_delay x 3, 0.6 s by default). Event ingestion and every
-- consent, erasure and budget write keep full durability: they do not go through here.
CREATE FUNCTION log_operation(
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
        SELECT p_request_id, p_role, p_principal_id, s, p, t, a
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
