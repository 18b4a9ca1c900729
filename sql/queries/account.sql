-- name: viewer_account
-- The signed-in user's own account row (essential.service, account data).
SELECT user_id, created_at, personalization_level, is_minor, country, platform, preferred_channel
FROM users WHERE user_id = $1
