-- name: layout_config_version
-- The public layout configuration version (part of every layout ETag).
SELECT version FROM config_versions WHERE name = 'layout'

-- name: layout_user_settings
-- The user's hidden inferences and the layout configuration version, in one round trip.
SELECT (SELECT version FROM config_versions WHERE name = 'layout') AS config_version,
       coalesce((SELECT array_agg(inference ORDER BY inference) FROM hidden_inferences
                 WHERE user_id = $1), '{}') AS hidden

-- name: tag_signals
-- The parts of the rollup the layout tags read (sessions, features, price levels, tenure).
SELECT least(u.created_at, s.first_seen) AS member_since,
       coalesce(s.sessions, 0) AS sessions,
       coalesce(s.feature_counts, '{}') AS feature_counts,
       coalesce(s.price_level_counts, '{0,0,0,0}') AS price_level_counts
FROM users u
LEFT JOIN user_signals s ON s.user_id = u.user_id
WHERE u.user_id = $1

-- name: layout_etag_inputs
-- Everything a user's layout depends on, as versions and settings only (no activity data):
-- config version, consent version, level, granted purposes, hidden inferences, and the counter
-- ingestion bumps when tag inputs change. One round trip; with a NULL user only the config.
SELECT cv.version AS config_version,
       u.consent_version,
       u.personalization_level,
       coalesce((SELECT array_agg(c.purpose ORDER BY c.purpose) FROM consents c
                 WHERE c.user_id = u.user_id AND c.granted), '{}') AS granted,
       coalesce((SELECT array_agg(h.inference ORDER BY h.inference) FROM hidden_inferences h
                 WHERE h.user_id = u.user_id), '{}') AS hidden,
       coalesce((SELECT s.layout_inputs_version FROM user_signals s WHERE s.user_id = u.user_id), 0)
           AS layout_inputs_version
FROM config_versions cv
LEFT JOIN users u ON u.user_id = $1
WHERE cv.name = 'layout'
