-- 0310: the four large append-only tables (events, decisions, audit_log, impressions) become
-- range-partitioned by time, so retention (jobs/retention.py) drops whole old partitions instead
-- of deleting rows one by one; erasure handles a partitioned table once; the index the erasure of
-- a reader's own audit entries needs.
--
-- Partitions are managed here, without pg_partman (not available on a fresh machine): a registry
-- of partitioned tables and of the partitions this schema made, a function that creates missing
-- partitions (ahead of time, by the retention job) and one that drops partitions wholly older
-- than a cutoff. Every partitioned table also has a DEFAULT partition, so a row whose partition
-- does not exist yet (the job has not run for a while) is still stored; creating the partition
-- later moves such rows out of the default partition.
--
-- What changes for events: PostgreSQL requires the partition column in every unique constraint
-- of a partitioned table, so the key becomes (user_id, event_id, occurred_at). A resent event is
-- the same document (same id, same occurredAt), lands in the same partition and conflicts on the
-- key, so ingestion's ON CONFLICT DO NOTHING still turns a resend into a no-op and reports it as a
-- duplicate. Only a different event reusing an id with another occurredAt would now be stored as
-- a second event (before, it was silently dropped as a duplicate). user_id still leads every key.

CREATE TABLE time_partitioned_tables (
    table_name  text PRIMARY KEY,
    time_column text NOT NULL,
    step        text NOT NULL CHECK (step IN ('week', 'month'))
);

-- The partitions made by ensure_time_partitions, with their bounds [lo, hi) in UTC; the default
-- partitions are not listed.
CREATE TABLE time_partitions (
    table_name     text NOT NULL REFERENCES time_partitioned_tables,
    partition_name text NOT NULL UNIQUE,
    lo             timestamptz NOT NULL,
    hi             timestamptz NOT NULL,
    PRIMARY KEY (table_name, lo)
);

-- Start of the step (UTC week from Monday, or UTC month) holding p_at.
CREATE FUNCTION time_partition_start(p_step text, p_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT date_trunc(p_step, p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;

-- End of the step that starts at p_lo, computed in UTC (timestamptz + '1 month' would follow the
-- session's time zone).
CREATE FUNCTION time_partition_end(p_step text, p_lo timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT ((p_lo AT TIME ZONE 'UTC') + ('1 ' || p_step)::interval) AT TIME ZONE 'UTC'
$$;

-- Create the partitions of p_table that cover [p_from, p_to] and do not exist yet; returns how
-- many were made. Each is created apart and attached (ATTACH takes a SHARE UPDATE EXCLUSIVE lock
-- on the parent, so reads and inserts go on), after the rows of its range that waited in the
-- default partition were moved into it. Identifiers come from the registry, quoted with %I.
CREATE FUNCTION ensure_time_partitions(p_table text, p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    cfg record;
    bound_lo timestamptz;
    bound_hi timestamptz;
    part text;
    made integer := 0;
BEGIN
    SELECT * INTO STRICT cfg FROM time_partitioned_tables WHERE table_name = p_table;
    bound_lo := time_partition_start(cfg.step, p_from);
    WHILE bound_lo <= p_to LOOP
        bound_hi := time_partition_end(cfg.step, bound_lo);
        IF NOT EXISTS (SELECT 1 FROM time_partitions t WHERE t.table_name = p_table AND t.lo = bound_lo) THEN
            part := format('%s_p%s', p_table, to_char(bound_lo AT TIME ZONE 'UTC', 'YYYYMMDD'));
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, p_table);
            EXECUTE format(
                'WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                p_table || '_default', cfg.time_column, cfg.time_column, part)
                USING bound_lo, bound_hi;
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           p_table, part, bound_lo, bound_hi);
            INSERT INTO time_partitions (table_name, partition_name, lo, hi)
            VALUES (p_table, part, bound_lo, bound_hi);
            made := made + 1;
        END IF;
        bound_lo := bound_hi;
    END LOOP;
    RETURN made;
END $$;

-- Drop the partitions of p_table that hold only rows older than p_before (hi <= p_before);
-- returns their names. Rows older than p_before in the partition that straddles it (and in the
-- default partition) are deleted by the caller (delete_rows_before), batch by batch.
CREATE FUNCTION drop_time_partitions(p_table text, p_before timestamptz)
RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    p record;
    dropped text[] := '{}';
BEGIN
    FOR p IN
        SELECT partition_name FROM time_partitions
        WHERE table_name = p_table AND hi <= p_before ORDER BY lo
    LOOP
        EXECUTE format('DROP TABLE %I', p.partition_name);
        DELETE FROM time_partitions WHERE partition_name = p.partition_name;
        dropped := dropped || p.partition_name;
    END LOOP;
    RETURN dropped;
END $$;

-- One batch of the rows of a plain table (or of one partition: ctid is per relation) whose
-- p_column is older than p_before; returns how many were deleted. The caller commits between
-- batches, so no transaction holds many row locks for long.
CREATE FUNCTION delete_rows_before(p_table text, p_column text, p_before timestamptz, p_limit integer)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = p_table::regclass) = 'p' THEN
        -- ctids repeat across partitions: a partitioned table is trimmed partition by partition.
        RAISE EXCEPTION 'delete_rows_before: % is partitioned; pass its partitions', p_table;
    END IF;
    EXECUTE format(
        'DELETE FROM %I WHERE ctid = ANY (ARRAY(SELECT ctid FROM %I WHERE %I < $1 LIMIT $2))',
        p_table, p_table, p_column)
        USING p_before, p_limit;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The relations of p_table that can hold rows older than p_before: the partitions that start
-- before it, and the default partition.
CREATE FUNCTION time_partitions_before(p_table text, p_before timestamptz)
RETURNS SETOF text LANGUAGE sql STABLE AS $$
SELECT partition_name FROM time_partitions WHERE table_name = p_table AND lo < p_before
UNION ALL
SELECT p_table || '_default'
$$;

-- Events: by occurredAt, one partition per month (ingestion accepts events up to 400 days old).
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER INDEX events_pkey RENAME TO events_unpartitioned_pkey;
ALTER INDEX events_user_type_time RENAME TO events_unpartitioned_user_type_time;
ALTER INDEX events_time RENAME TO events_unpartitioned_time;
CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (occurred_at);
CREATE TABLE events_default PARTITION OF events DEFAULT;
INSERT INTO time_partitioned_tables VALUES ('events', 'occurred_at', 'month');
SELECT ensure_time_partitions('events', coalesce((SELECT min(occurred_at) FROM events_unpartitioned), now()),
                              now() + interval '3 months');
INSERT INTO events SELECT * FROM events_unpartitioned;
DROP TABLE events_unpartitioned;
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (user_id, event_id, occurred_at);
CREATE INDEX events_user_type_time ON events (user_id, type, occurred_at);
CREATE INDEX events_time ON events (occurred_at);

-- Decisions: by generated_at, one partition per week (about 20 records per personalized request).
ALTER TABLE decisions RENAME TO decisions_unpartitioned;
ALTER INDEX decisions_pkey RENAME TO decisions_unpartitioned_pkey;
ALTER INDEX decisions_user_time RENAME TO decisions_unpartitioned_user_time;
CREATE TABLE decisions (LIKE decisions_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (generated_at);
CREATE TABLE decisions_default PARTITION OF decisions DEFAULT;
INSERT INTO time_partitioned_tables VALUES ('decisions', 'generated_at', 'week');
SELECT ensure_time_partitions('decisions',
                              coalesce((SELECT min(generated_at) FROM decisions_unpartitioned), now()),
                              now() + interval '4 weeks');
INSERT INTO decisions SELECT * FROM decisions_unpartitioned;
DROP TABLE decisions_unpartitioned;
ALTER TABLE decisions ADD CONSTRAINT decisions_pkey PRIMARY KEY (user_id, decision_id, generated_at);
CREATE INDEX decisions_user_time ON decisions (user_id, generated_at DESC);
CREATE INDEX decisions_time ON decisions (generated_at);

-- Audit entries: by at, one partition per month. The id sequence moves to the new table.
ALTER TABLE audit_log RENAME TO audit_log_unpartitioned;
ALTER INDEX audit_log_pkey RENAME TO audit_log_unpartitioned_pkey;
ALTER INDEX audit_log_subject RENAME TO audit_log_unpartitioned_subject;
ALTER INDEX audit_log_request RENAME TO audit_log_unpartitioned_request;
CREATE TABLE audit_log (LIKE audit_log_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (at);
ALTER SEQUENCE audit_log_audit_id_seq OWNED BY audit_log.audit_id;
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;
INSERT INTO time_partitioned_tables VALUES ('audit_log', 'at', 'month');
SELECT ensure_time_partitions('audit_log', coalesce((SELECT min(at) FROM audit_log_unpartitioned), now()),
                              now() + interval '3 months');
INSERT INTO audit_log SELECT * FROM audit_log_unpartitioned;
DROP TABLE audit_log_unpartitioned;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (audit_id, at);
CREATE INDEX audit_log_subject ON audit_log (subject_user_id, at);
CREATE INDEX audit_log_request ON audit_log (request_id);
CREATE INDEX audit_log_time ON audit_log (at);
-- erase_user deletes the entries where the user was the reader (their own requests): without
-- this index that DELETE read every audit entry.
CREATE INDEX audit_log_reader ON audit_log (principal_id) WHERE principal_role = 'user';

-- Impressions: by shown_at, one partition per month. The frequency caps count impressions inside
-- their window: retention never cuts into the longest cap window of an offer (jobs/retention.py).
ALTER TABLE impressions RENAME TO impressions_unpartitioned;
ALTER INDEX impressions_pkey RENAME TO impressions_unpartitioned_pkey;
ALTER INDEX impressions_user_offer_time RENAME TO impressions_unpartitioned_user_offer_time;
ALTER INDEX impressions_user_time RENAME TO impressions_unpartitioned_user_time;
CREATE TABLE impressions (LIKE impressions_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (shown_at);
ALTER SEQUENCE impressions_impression_id_seq OWNED BY impressions.impression_id;
CREATE TABLE impressions_default PARTITION OF impressions DEFAULT;
INSERT INTO time_partitioned_tables VALUES ('impressions', 'shown_at', 'month');
SELECT ensure_time_partitions('impressions',
                              coalesce((SELECT min(shown_at) FROM impressions_unpartitioned), now()),
                              now() + interval '3 months');
INSERT INTO impressions SELECT * FROM impressions_unpartitioned;
DROP TABLE impressions_unpartitioned;
ALTER TABLE impressions ADD CONSTRAINT impressions_pkey PRIMARY KEY (user_id, impression_id, shown_at);
ALTER TABLE impressions ADD CONSTRAINT impressions_offer_id_fkey FOREIGN KEY (offer_id) REFERENCES offers;
CREATE INDEX impressions_user_offer_time ON impressions (user_id, offer_id, shown_at);
CREATE INDEX impressions_user_time ON impressions (user_id, shown_at);
CREATE INDEX impressions_time ON impressions (shown_at);

-- Cached DP answers are deleted by age (jobs/retention.py).
CREATE INDEX dp_answers_released ON dp_answers (released_at);

-- Erasure, new version: the tables come from pg_class instead of information_schema, so a
-- partitioned table is deleted from once, through its parent (a DELETE on the parent reaches
-- every partition), and its partitions are neither deleted from again nor listed in the
-- erasure log. Otherwise as in 0020.
CREATE OR REPLACE FUNCTION erase_user(target bigint)
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
        SELECT ns.nspname AS table_schema, c.relname AS table_name, a.attname AS column_name
        FROM pg_class c
        JOIN pg_namespace ns ON ns.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE ns.nspname = current_schema()
          AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND a.attname IN ('user_id', 'subject_user_id')
          AND c.relname <> 'erasure_log'
        ORDER BY (c.relname = 'users'), c.relname, a.attname
    LOOP
        EXECUTE format('DELETE FROM %I.%I WHERE %I = $1', t.table_schema, t.table_name, t.column_name)
            USING target;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
        touched := touched || t.table_name::text;
    END LOOP;
    -- Audit entries where the user was the reader (their own requests) name them too
    -- (index audit_log_reader).
    DELETE FROM audit_log WHERE principal_role = 'user' AND principal_id = target::text;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    RETURN QUERY
        INSERT INTO erasure_log (rows_deleted, tables) VALUES (total, touched)
        RETURNING erasure_log.erasure_id, erasure_log.rows_deleted, erasure_log.tables;
END $$;
