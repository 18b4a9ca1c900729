-- 0020: consent receipts for GPC and conflicts, and erasure driven by the catalog.

-- A Global Privacy Control signal is recorded once per user, purpose and notice version: the
-- unique partial index makes concurrent GPC requests insert at most one receipt each
-- (INSERT ... ON CONFLICT DO NOTHING), without a lock or a read first.
CREATE UNIQUE INDEX consent_events_gpc_once ON consent_events (user_id, purpose, notice_version)
    WHERE method = 'gpc';

-- An explicit opt-in given while (or after) GPC was seen for the same purpose and notice
-- version: the user resolved the conflict, so their explicit choice wins over the GPC signal
-- until the notice version changes or they withdraw.
ALTER TABLE consents ADD COLUMN overrides_gpc boolean NOT NULL DEFAULT false;

-- Erasure (GDPR Art. 17): delete every row naming the user from every table that has a user
-- column, found in the catalog at run time so that a table added later cannot be forgotten.
-- Identifiers are quoted with format('%I'); the id is a bound parameter. Children first, users
-- last, so foreign keys without ON DELETE CASCADE do not block. One call = one transaction.
CREATE FUNCTION erase_user(target bigint)
RETURNS TABLE (erasure_id uuid, rows_deleted bigint, tables text[])
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    n bigint;
    total bigint := 0;
    touched text[] := '{}';
BEGIN
    -- Lock the account row first: consent changes (UPDATE users) and GPC recording (FOR KEY
    -- SHARE on users) wait for this transaction, then find no account and write nothing, so no
    -- row naming the user can appear between the deletes below.
    PERFORM 1 FROM users WHERE user_id = target FOR UPDATE;
    FOR t IN
        SELECT c.table_schema, c.table_name, c.column_name
        FROM information_schema.columns c
        JOIN information_schema.tables tb
          ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
        WHERE c.table_schema = current_schema()
          AND tb.table_type = 'BASE TABLE'
          AND c.column_name IN ('user_id', 'subject_user_id')
          AND c.table_name <> 'erasure_log'
        ORDER BY (c.table_name = 'users'), c.table_name, c.column_name
    LOOP
        EXECUTE format('DELETE FROM %I.%I WHERE %I = $1', t.table_schema, t.table_name, t.column_name)
            USING target;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
        touched := touched || t.table_name::text;
    END LOOP;
    -- Audit entries where the user was the reader (their own requests) name them too.
    DELETE FROM audit_log WHERE principal_role = 'user' AND principal_id = target::text;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    RETURN QUERY
        INSERT INTO erasure_log (rows_deleted, tables) VALUES (total, touched)
        RETURNING erasure_log.erasure_id, erasure_log.rows_deleted, erasure_log.tables;
END $$;
