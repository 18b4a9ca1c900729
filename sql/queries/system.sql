-- name: ready_check
-- Reachability and schema version in one round trip.
SELECT coalesce(max(version), 0) AS version FROM schema_migrations

-- name: user_count
-- How many users exist (make run seeds an empty database).
SELECT count(*) FROM users

-- name: get_user
-- The account row for one user.
SELECT user_id, created_at, personalization_level, is_minor, country, platform,
       preferred_channel, objected_to_marketing, consent_version
FROM users WHERE user_id = $1
