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

-- name: set_language
-- The person's language (NULL: Accept-Language decides), audited in the same statement. It moves
-- consent_version, the counter the layout's ETag reads, because every rendered text changes.
WITH u AS (
    UPDATE users SET language = %(language)s, consent_version = consent_version + 1
    WHERE user_id = %(a_subject)s
    RETURNING language
), audit AS (
    INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose,
                           table_name, action)
    SELECT %(a_request_id)s, %(a_role)s, %(a_principal)s, %(a_subject)s, %(a_purpose)s, t, 'write'
    FROM unnest(%(a_tables)s::text[]) AS t
    WHERE EXISTS (SELECT 1 FROM u)
)
SELECT language FROM u
