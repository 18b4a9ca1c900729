-- name: set_time_zone
-- The user's IANA time zone (validated by the API against the tz database), audited in the
-- same statement.
WITH u AS (
    UPDATE users SET time_zone = %(time_zone)s
    WHERE user_id = %(a_subject)s
    RETURNING time_zone
), @audit_write(u)
SELECT time_zone FROM u

-- name: save_customization
-- Store the person's own customization (every value validated by the API against the published
-- options) as a new version, only while the stored version is still %(expected)s (0: nothing
-- stored yet; NULL: whatever it is), audited in the same statement. No row: the account is gone
-- or the version moved (the caller reads the current version to tell which).
WITH u AS (
    SELECT user_id FROM users WHERE user_id = %(a_subject)s FOR KEY SHARE
), saved AS (
    INSERT INTO user_customization AS uc (user_id, theme, accent, font_scale, density, layout, pinned, hidden)
    SELECT user_id, %(theme)s, %(accent)s, %(font_scale)s, %(density)s, %(layout)s,
           %(pinned)s::text[], %(hidden)s::text[]
    FROM u
    -- an expected version > 0 needs a stored row: never insert one then
    WHERE coalesce(%(expected)s::int, 0) = 0
       OR EXISTS (SELECT 1 FROM user_customization x WHERE x.user_id = u.user_id)
    ON CONFLICT (user_id) DO UPDATE
    SET theme = excluded.theme, accent = excluded.accent, font_scale = excluded.font_scale,
        density = excluded.density, layout = excluded.layout, pinned = excluded.pinned,
        hidden = excluded.hidden, version = uc.version + 1, updated_at = now()
    WHERE %(expected)s::int IS NULL OR uc.version = %(expected)s::int
    RETURNING uc.version, uc.theme, uc.accent, uc.font_scale, uc.density, uc.layout,
              uc.pinned, uc.hidden, uc.updated_at
), @audit_write(saved)
SELECT version, theme, accent, font_scale, density, layout, pinned, hidden, updated_at FROM saved

-- name: customization_version
-- The stored version of the person's customization (0: never set); account data.
SELECT coalesce((SELECT version FROM user_customization WHERE user_id = $1), 0) AS version

-- name: export_customization
-- The person's own customization, for their export.
SELECT version, theme, accent, font_scale, density, layout, pinned, hidden, updated_at
FROM user_customization WHERE user_id = $1

-- name: set_language
-- The person's language (NULL: Accept-Language decides), audited in the same statement. It moves
-- consent_version, the counter the layout's ETag reads, because every rendered text changes.
WITH u AS (
    UPDATE users SET language = %(language)s, consent_version = consent_version + 1
    WHERE user_id = %(a_subject)s
    RETURNING language
), @audit_write(u)
SELECT language FROM u
