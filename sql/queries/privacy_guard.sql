-- name: log_operation
-- One operation's audit entries and decision records, in one round trip (see migration 0050).
-- The records arrive as JSON text (text[], cast here): asyncpg encodes a jsonb[] parameter
-- element by element through the Python codec, 4x the CPU of a text[] of the same JSON.
SELECT log_operation(%(request_id)s, %(role)s, %(principal_id)s, %(reader)s, %(subjects)s::bigint[],
                     %(purposes)s::text[], %(tables)s::text[], %(actions)s::text[], %(decision_user)s,
                     %(ids)s::uuid[], %(surfaces)s::text[], %(kinds)s::text[], %(subject_ids)s::text[],
                     %(ranks)s::int[], %(modes)s::text[], %(records)s::text[]::jsonb[], %(snapshots)s::text[],
                     %(generated)s::timestamptz[])

-- name: state_versions
-- What a cached layout depends on, as version counters only (no personal values): the public
-- layout rule version and, for a known user, consent_version (bumped by every consent, level,
-- objection and control change) and layout_inputs_version (bumped by ingestion when tag inputs
-- change) and customization_version (the person's own settings, migration 0460). One round trip;
-- with no such user the counters are NULL. `announced`: the user has both the users and
-- user_signals rows, so every later change of the counters is announced by NOTIFY (migrations 0520
-- and 0521; inserts into users and user_signals are not), which the per-worker ETag cache
-- (gateway/etag_cache.py) needs to keep them.
SELECT cv.version AS config_version, u.consent_version, coalesce(s.layout_inputs_version, 0) AS layout_inputs_version,
       coalesce(uc.version, 0) AS customization_version, s.user_id IS NOT NULL AS announced
FROM config_versions cv
LEFT JOIN users u ON u.user_id = $1
LEFT JOIN user_signals s ON s.user_id = u.user_id
LEFT JOIN user_customization uc ON uc.user_id = u.user_id
WHERE cv.name = 'layout'
