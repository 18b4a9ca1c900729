-- name: ready_check
-- Reachability and schema version in one round trip.
SELECT coalesce(max(version), 0) AS version FROM schema_migrations

-- name: user_count
-- How many users exist (make run seeds an empty database).
SELECT count(*) FROM users
