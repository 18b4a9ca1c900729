-- name: user_channels
-- Per-channel subscription state and the preferred channel of one user.
SELECT u.preferred_channel, c.channel, c.subscribed, c.updated_at
FROM users u
LEFT JOIN user_channels c ON c.user_id = u.user_id
WHERE u.user_id = $1

-- name: set_preferred_channel
-- The channel reminders should use (still subject to consent and subscription).
UPDATE users SET preferred_channel = $2 WHERE user_id = $1 RETURNING preferred_channel

-- name: set_channel_subscription
-- Subscribe to or unsubscribe from one channel.
INSERT INTO user_channels (user_id, channel, subscribed, updated_at)
SELECT user_id, $2, $3, now() FROM users WHERE user_id = $1
ON CONFLICT (user_id, channel) DO UPDATE SET subscribed = excluded.subscribed, updated_at = excluded.updated_at
RETURNING channel, subscribed, updated_at
