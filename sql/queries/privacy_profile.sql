-- name: profile_fields
-- The user's stated profile: field, value, category, purpose, stage, source, time.
SELECT field, value, data_category, purpose, stage, source, collected_at
FROM profile_fields WHERE user_id = $1
ORDER BY field

-- name: profile_field_names
-- Which profile fields the user already gave (names only, for the prompts).
SELECT field FROM profile_fields WHERE user_id = $1

-- name: upsert_profile_fields
-- Store validated, declared fields, and (with a birth-year range) the coarse age range on the
-- account, which can set the minor flag, never clear it: one statement, all or nothing.
WITH f AS (
    INSERT INTO profile_fields (user_id, field, value, data_category, purpose, stage, source, collected_at)
    SELECT u.user_id, x.f, x.v, x.c, x.p, %(stage)s, 'stated_by_user', now()
    FROM users u, unnest(%(fields)s::text[], %(values)s::text[], %(categories)s::text[], %(purposes)s::text[])
         AS x(f, v, c, p)
    WHERE u.user_id = %(a_subject)s
    ON CONFLICT (user_id, field) DO UPDATE
        SET value = excluded.value, data_category = excluded.data_category, purpose = excluded.purpose,
            stage = excluded.stage, source = excluded.source, collected_at = excluded.collected_at
    RETURNING field, value, data_category, purpose, stage, source, collected_at
), age AS (
    UPDATE users SET birth_year_range = %(birth_year_range)s, is_minor = is_minor OR %(minor)s,
                     consent_version = consent_version + 1
    WHERE user_id = %(a_subject)s AND %(birth_year_range)s::text IS NOT NULL
), @audit_write(f)
SELECT field, value, data_category, purpose, stage, source, collected_at FROM f ORDER BY field

-- name: user_key_dates
-- The key dates (day and month only) one person stated, and their reminder lead time: $2 the
-- declared fields (resolvers/reminders/key_dates.py READ_FIELDS).
SELECT field, value FROM profile_fields
WHERE user_id = $1 AND field = ANY ($2::text[]) AND source = 'stated_by_user'
ORDER BY field
