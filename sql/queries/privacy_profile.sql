-- name: profile_fields
-- The user's stated profile: field, value, category, purpose, stage, source, time.
SELECT field, value, data_category, purpose, stage, source, collected_at
FROM profile_fields WHERE user_id = $1
ORDER BY field

-- name: profile_field_names
-- Which profile fields the user already gave (names only, for the prompts).
SELECT field FROM profile_fields WHERE user_id = $1

-- name: upsert_profile_fields
-- Store validated, declared fields (one statement: all or nothing).
INSERT INTO profile_fields (user_id, field, value, data_category, purpose, stage, source, collected_at)
SELECT $1, f, v, c, p, $6, 'stated_by_user', now()
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(f, v, c, p)
ON CONFLICT (user_id, field) DO UPDATE
    SET value = excluded.value, data_category = excluded.data_category, purpose = excluded.purpose,
        stage = excluded.stage, source = excluded.source, collected_at = excluded.collected_at
RETURNING field, value, data_category, purpose, stage, source, collected_at

-- name: set_birth_year_range
-- Keep the coarse age range on the account; a stated range can set the minor flag, never clear it.
UPDATE users SET birth_year_range = $2, is_minor = is_minor OR $3, consent_version = consent_version + 1
WHERE user_id = $1
