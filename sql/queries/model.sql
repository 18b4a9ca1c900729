-- The per-operation user model (resolvers/model/user.py): at most two reads per operation.

-- name: user_account
-- The account: flags, consent per purpose, subscribed channels, the person's controls and their
-- own customization (custom_*: NULL when they never chose anything), in one round trip (account data, read under essential.service). With $2 = true (the request carries
-- Sec-GPC: 1) it also says whether a GPC receipt is missing for one of the marketing purposes
-- $3 at notice versions $4. No row for an unknown or erased id.
SELECT u.user_id, u.created_at, u.personalization_level, u.is_minor, u.objected_to_marketing,
       u.consent_version, u.country, u.platform::text AS platform,
       u.preferred_channel::text AS preferred_channel, u.time_zone, u.language,
       coalesce(c.purposes, '{}') AS purposes, coalesce(c.granted, '{}') AS granted,
       coalesce(c.versions, '{}') AS versions, coalesce(c.overrides, '{}') AS overrides,
       coalesce((SELECT array_agg(ch.channel::text ORDER BY ch.channel) FROM user_channels ch
                 WHERE ch.user_id = u.user_id AND ch.subscribed), '{}') AS subscribed,
       k.control_kinds, k.control_targets, k.control_created,
       uc.version AS custom_version, uc.theme AS custom_theme, uc.accent AS custom_accent,
       uc.font_scale AS custom_font_scale, uc.density AS custom_density, uc.layout AS custom_layout,
       uc.pinned AS custom_pinned, uc.hidden AS custom_hidden,
       coalesce((SELECT array_agg(e.purpose || '@' || e.notice_version) FROM consent_events e
                 WHERE e.user_id = u.user_id AND e.method = 'gpc'), '{}') AS gpc_receipts,
       CASE WHEN $2::boolean THEN
           (SELECT count(*) FROM unnest($3::text[], $4::int[]) AS x(purpose, version)
            WHERE NOT EXISTS (SELECT 1 FROM consent_events e
                              WHERE e.user_id = u.user_id AND e.method = 'gpc'
                                AND e.purpose = x.purpose AND e.notice_version = x.version))
       ELSE 0 END AS gpc_missing
FROM users u
LEFT JOIN LATERAL (
    SELECT array_agg(purpose ORDER BY purpose) AS purposes,
           array_agg(granted ORDER BY purpose) AS granted,
           array_agg(notice_version ORDER BY purpose) AS versions,
           array_agg(overrides_gpc ORDER BY purpose) AS overrides
    FROM consents WHERE user_id = u.user_id
) c ON true
@user_controls(u)
LEFT JOIN user_customization uc ON uc.user_id = u.user_id
WHERE u.user_id = $1

-- name: user_activity
-- The behavioural rollups of one user (sensitive items were left out when they were computed):
-- counters, spend per day (400 days), purchases, cart (with its value at current prices),
-- category affinities, features, recent searches, and ($3) the interests they stated. $2 = false
-- reads none of the activity, only what they stated.
SELECT @user_activity(s),
       CASE WHEN $3::boolean THEN
           (SELECT pf.value FROM profile_fields pf
            WHERE pf.user_id = $1 AND pf.field = 'interests' AND pf.source = 'stated_by_user')
       END AS interests
FROM users u
LEFT JOIN user_signals s ON s.user_id = u.user_id AND $2::boolean
WHERE u.user_id = $1

-- name: users_account_facts
-- What targeting may use of the accounts of a batch of users (a job): creation, country,
-- platform, and the inferences each hid.
SELECT u.user_id, u.created_at, u.country, u.platform::text AS platform,
       coalesce((SELECT array_agg(k.target ORDER BY k.target) FROM user_controls k
                 WHERE k.user_id = u.user_id AND k.kind = 'hide_inference'), '{}') AS hidden
FROM users u
WHERE u.user_id = ANY ($1::bigint[])
ORDER BY u.user_id

-- name: users_activity
-- The behavioural rollups of a batch of users (a job), the columns of user_activity.
SELECT u.user_id, @user_activity(s),
       NULL::text AS interests
FROM users u
LEFT JOIN user_signals s ON s.user_id = u.user_id
WHERE u.user_id = ANY ($1::bigint[])
ORDER BY u.user_id

-- name: apply_control
-- Store one of the person's controls (idempotent; its trigger moves consent_version, so snapshots
-- and layout ETags change on the next request); hiding a segment inference also removes it from
-- the membership rollup. The stored entry, new or existing.
WITH u AS (
    SELECT user_id FROM users WHERE user_id = %(a_subject)s FOR KEY SHARE
), c AS (
    INSERT INTO user_controls (user_id, kind, target)
    SELECT user_id, %(kind)s, %(target)s FROM u
    ON CONFLICT (user_id, kind, target) DO UPDATE SET target = excluded.target
    RETURNING kind::text AS kind, target, created_at
), unstored AS (
    DELETE FROM segment_members m
    USING u
    WHERE m.user_id = u.user_id AND %(kind)s = 'hide_inference' AND 'segment:' || m.segment_id = %(target)s
), @audit_write(u)
SELECT kind, target, created_at FROM c

-- name: undo_control
-- Remove one of the person's controls; the removed entry (none when there was nothing to undo).
WITH gone AS (
    DELETE FROM user_controls
    WHERE user_id = %(a_subject)s AND kind = %(kind)s AND target = %(target)s
    RETURNING user_id, kind::text AS kind, target, created_at
), u AS (
    SELECT DISTINCT user_id FROM gone
), @audit_write(u)
SELECT kind, target, created_at FROM gone
