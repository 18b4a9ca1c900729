-- name: user_channels
-- Per-channel subscription state and the preferred channel of one user.
SELECT u.preferred_channel::text AS preferred_channel, c.channel::text AS channel, c.subscribed, c.updated_at
FROM users u
LEFT JOIN user_channels c ON c.user_id = u.user_id
WHERE u.user_id = $1

-- name: set_preferred_channel
-- The channel reminders should use (still subject to consent and subscription).
WITH u AS (
    UPDATE users SET preferred_channel = %(channel)s, consent_version = consent_version + 1
    WHERE user_id = %(a_subject)s
    RETURNING preferred_channel
), @audit_write(u)
SELECT preferred_channel::text AS preferred_channel FROM u

-- name: set_channel_subscription
-- Subscribe to or unsubscribe from one channel.
WITH c AS (
    INSERT INTO user_channels (user_id, channel, subscribed, updated_at)
    SELECT user_id, %(channel)s, %(subscribed)s, now() FROM users WHERE user_id = %(a_subject)s
    ON CONFLICT (user_id, channel) DO UPDATE
        SET subscribed = excluded.subscribed, updated_at = excluded.updated_at
    RETURNING channel, subscribed, updated_at
), @audit_write(c)
SELECT channel::text AS channel, subscribed, updated_at FROM c
