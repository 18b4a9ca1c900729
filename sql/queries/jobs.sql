-- The job queue's state for admins (pgqueuer's tables, migration 0300): no personal data.

-- name: job_runs
-- The newest jobs ($2 at most), optionally only those with status $1 and name $3. A job still in
-- the queue table has its live status (queued, picked, or failed: held after its last attempt);
-- a finished one has the last status its log recorded. last_error: the newest error logged for it
-- (a retry logs the error that caused it; jobs/queue.py names it "<type>: <message>").
WITH ids AS (
    SELECT job_id FROM pgqueuer_log
    UNION
    SELECT id FROM pgqueuer
), runs AS (
    SELECT i.job_id,
           coalesce(q.entrypoint, last.entrypoint) AS name,
           coalesce(q.status, last.status)::text AS status,
           coalesce((SELECT min(l.created) FROM pgqueuer_log l WHERE l.job_id = i.job_id), q.created) AS created_at,
           greatest(q.updated, last.created) AS updated_at,
           (SELECT count(*) FROM pgqueuer_log l WHERE l.job_id = i.job_id AND l.status = 'picked') AS runs,
           q.attempts,
           CASE WHEN q.status = 'queued' THEN q.execute_after END AS next_attempt_at,
           (SELECT coalesce(e.traceback->'additional_context'->>'reason', e.traceback->>'exception_message')
            FROM pgqueuer_log e
            WHERE e.job_id = i.job_id AND e.traceback IS NOT NULL
            ORDER BY e.id DESC LIMIT 1) AS last_error
    FROM ids i
    LEFT JOIN pgqueuer q ON q.id = i.job_id
    LEFT JOIN LATERAL (
        SELECT l.entrypoint, l.status, l.created FROM pgqueuer_log l
        WHERE l.job_id = i.job_id ORDER BY l.id DESC LIMIT 1
    ) last ON true
)
SELECT * FROM runs
WHERE ($1::text IS NULL OR status = $1) AND ($3::text IS NULL OR name = $3)
ORDER BY job_id DESC
LIMIT $2

-- name: job_schedules
-- Every schedule with its next and last run.
SELECT entrypoint, expression, next_run, last_run, status::text AS status
FROM pgqueuer_schedules ORDER BY entrypoint, expression
