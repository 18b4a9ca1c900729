-- name: set_time_zone
-- The user's IANA time zone (validated by the API against the tz database), audited in the
-- same statement.
WITH u AS (
    UPDATE users SET time_zone = %(time_zone)s
    WHERE user_id = %(a_subject)s
    RETURNING time_zone
), audit AS (
    INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose,
                           table_name, action)
    SELECT %(a_request_id)s, %(a_role)s, %(a_principal)s, %(a_subject)s, %(a_purpose)s, t, 'write'
    FROM unnest(%(a_tables)s::text[]) AS t
    WHERE EXISTS (SELECT 1 FROM u)
)
SELECT time_zone FROM u
