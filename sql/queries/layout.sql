-- name: config_versions
-- Every public rule version (reference data, cached per worker).
SELECT name, version FROM config_versions ORDER BY name

-- name: layout_etag_versions
-- state_versions (privacy_guard.sql) for the per-worker ETag cache (gateway/etag_cache.py), which
-- also needs to know whether the user has both rows: only then is every later change of the
-- counters announced (migration 0520 announces updates and deletes, not inserts).
SELECT cv.version AS config_version, u.consent_version, coalesce(s.layout_inputs_version, 0) AS layout_inputs_version,
       s.user_id IS NOT NULL AS cacheable
FROM config_versions cv
LEFT JOIN users u ON u.user_id = $1
LEFT JOIN user_signals s ON s.user_id = u.user_id
WHERE cv.name = 'layout'
