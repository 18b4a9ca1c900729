-- Retention (jobs/retention.py) over the time partitions of migration 0310.

-- name: time_partitioned_tables
-- The partitioned tables, their time column and partition step.
SELECT table_name, time_column, step FROM time_partitioned_tables ORDER BY table_name

-- name: ensure_time_partitions
-- Create the missing partitions of table $1 covering [$2, $3]; how many were made.
SELECT ensure_time_partitions($1, $2, $3)

-- name: drop_time_partitions
-- Drop the partitions of table $1 wholly older than $2; their names.
SELECT drop_time_partitions($1, $2)

-- name: time_partitions_before
-- The relations of table $1 that may hold rows older than $2 (straddling partition, default).
SELECT name FROM time_partitions_before($1, $2) AS name

-- name: delete_rows_before
-- One batch (at most $4 rows) of relation $1 whose column $2 is older than $3; rows deleted.
SELECT delete_rows_before($1, $2, $3, $4)

-- name: set_lock_timeout
-- For this transaction only: wait at most $1 for a lock (e.g. '3000ms'), then fail.
SELECT set_config('lock_timeout', $1, true)

-- name: longest_cap_window_hours
-- The longest frequency-cap window of a live offer: impressions inside it are still counted.
SELECT coalesce(max(cap_window_hours), 0)::int FROM offers WHERE active
