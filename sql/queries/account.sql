-- name: viewer_account
-- The signed-in user's own account row (essential.service, account data).
SELECT user_id, created_at, personalization_level, is_minor, country, platform, preferred_channel,
       time_zone
FROM users WHERE user_id = $1

-- name: set_time_zone
-- The user's IANA time zone (validated by the API against the tz database).
UPDATE users SET time_zone = $2 WHERE user_id = $1 RETURNING time_zone
