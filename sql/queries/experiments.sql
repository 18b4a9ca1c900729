-- name: insert_experiment
-- A new experiment (draft, version 1); nothing when the key is taken.
INSERT INTO experiments (key, created_by) VALUES ($1, $2)
ON CONFLICT (key) DO NOTHING
RETURNING experiment_id, key, current_version, status, started_at, stopped_at

-- name: insert_experiment_version
-- One immutable version of an experiment's definition.
INSERT INTO experiment_versions (experiment_id, version, definition, created_by) VALUES ($1, $2, $3, $4)

-- name: lock_experiment
-- An experiment at its current version, locked until the transaction ends (edits and status changes).
SELECT e.experiment_id, e.key, e.current_version, e.status, e.started_at, e.stopped_at, v.definition
FROM experiments e
JOIN experiment_versions v ON v.experiment_id = e.experiment_id AND v.version = e.current_version
WHERE e.key = $1
FOR UPDATE OF e

-- name: bump_experiment_version
-- Next version of a locked experiment.
UPDATE experiments SET current_version = current_version + 1 WHERE experiment_id = $1
RETURNING experiment_id, key, current_version, status, started_at, stopped_at

-- name: set_experiment_status
-- Start or stop an experiment (started_at / stopped_at keep the latest change).
UPDATE experiments
SET status = $2,
    started_at = CASE WHEN $2 = 'running' THEN now() ELSE started_at END,
    stopped_at = CASE WHEN $2 = 'stopped' THEN now() ELSE stopped_at END
WHERE experiment_id = $1
RETURNING experiment_id, key, current_version, status, started_at, stopped_at

-- name: all_experiments
-- Every experiment at its current version (public marketer configuration), serializing namespace
-- checks of concurrent saves (the namespace lock is held by the caller's transaction).
SELECT e.experiment_id, e.key, e.current_version, e.status, e.started_at, e.stopped_at, v.definition
FROM experiments e
JOIN experiment_versions v ON v.experiment_id = e.experiment_id AND v.version = e.current_version
ORDER BY e.experiment_id

-- name: lock_experiment_namespaces
-- One save at a time checks namespace overlaps: a row lock on the layout's version row (a small
-- reference table; every experiment save moves that version anyway), held to the end of the
-- caller's transaction. A row lock, not an advisory lock, so it holds on a distributed
-- PostgreSQL too (sql/citus.py).
SELECT version FROM config_versions WHERE name = 'layout' FOR UPDATE

-- name: experiment_by_key
-- One experiment at its current version.
SELECT e.experiment_id, e.key, e.current_version, e.status, e.started_at, e.stopped_at, v.definition
FROM experiments e
JOIN experiment_versions v ON v.experiment_id = e.experiment_id AND v.version = e.current_version
WHERE e.key = $1

-- name: record_exposure
-- The first exposure of the request's user to an experiment: written once whatever the number of
-- workers and retries (ON CONFLICT DO NOTHING), audited in the same statement when written.
WITH u AS (
    SELECT user_id FROM users WHERE user_id = %(a_subject)s FOR KEY SHARE
), ins AS (
    INSERT INTO experiment_exposures (user_id, experiment_id, variant, request_id)
    SELECT user_id, %(experiment_id)s, %(variant)s, %(a_request_id)s FROM u
    ON CONFLICT (user_id, experiment_id) DO NOTHING
    RETURNING user_id
), @audit_write(ins)
SELECT count(*) AS written FROM ins

-- name: experiment_outcomes
-- Per user exposed to experiment $1 (one row per user: the privacy unit), their variant and the
-- outcomes after their first exposure, each bounded per user: 0/1 for conversion (a purchase of a
-- non-sensitive item: sensitive purchases count nowhere, as in the rollups), offer click and
-- redemption; non-sensitive purchase cents clamped to [0, $2]; session starts clamped to [0, $3]. Only users
-- whose consent allows analytics.aggregate on behavioural data count ($4 = the purpose).
-- Summed per arm here: one row per variant comes back, not one per exposed user.
SELECT variant, count(*)::bigint AS exposed, sum(converted)::bigint AS converted,
       sum(clicked)::bigint AS clicked, sum(redeemed)::bigint AS redeemed,
       sum(revenue)::bigint AS revenue, sum(sessions)::bigint AS sessions
FROM (
SELECT x.variant,
       (EXISTS (SELECT 1 FROM events e JOIN items i ON i.item_id = e.item_id AND NOT i.sensitive
                WHERE e.user_id = x.user_id AND e.type = 'purchase'
                AND e.occurred_at >= x.exposed_at))::int AS converted,
       (EXISTS (SELECT 1 FROM events e WHERE e.user_id = x.user_id AND e.type = 'offer_click'
                AND e.occurred_at >= x.exposed_at))::int AS clicked,
       (EXISTS (SELECT 1 FROM events e WHERE e.user_id = x.user_id AND e.type = 'offer_redemption'
                AND e.occurred_at >= x.exposed_at))::int AS redeemed,
       -- Per-user work is bounded by public caps (privacy/PROOFS.md, "Timing"): at most 100
       -- purchases are summed (index range scan with LIMIT) and at most $3 sessions counted.
       least(coalesce((SELECT sum(p.value) FROM (SELECT e.value FROM events e
                       JOIN items i ON i.item_id = e.item_id AND NOT i.sensitive
                       WHERE e.user_id = x.user_id
                       AND e.type = 'purchase' AND e.occurred_at >= x.exposed_at
                       ORDER BY e.occurred_at LIMIT 100) p), 0), $2)::bigint AS revenue,
       (SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.user_id = x.user_id AND e.type = 'session_start'
              AND e.occurred_at >= x.exposed_at LIMIT $3) s)::bigint AS sessions
FROM experiment_exposures x
JOIN consents c ON c.user_id = x.user_id AND c.purpose = $4 AND c.granted
WHERE x.experiment_id = $1
) per_user
GROUP BY variant

-- name: export_experiment_exposures
-- The person's experiment exposures (export).
SELECT e.key AS experiment, x.variant, x.exposed_at
FROM experiment_exposures x JOIN experiments e ON e.experiment_id = x.experiment_id
WHERE x.user_id = $1 ORDER BY x.exposed_at, e.key

-- name: experiment_version
-- The current definition version of an experiment (public configuration); no row when unknown.
SELECT current_version FROM experiments WHERE key = $1

-- name: live_offer_ids
-- The ids of the live offers an OFFER_CHOICE experiment may compare (public configuration).
SELECT offer_id FROM offers WHERE active
