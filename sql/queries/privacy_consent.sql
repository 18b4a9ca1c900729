-- name: consent_snapshots
-- Account flags and every consent row of each given user (one round trip, no writes); unknown
-- or erased ids are absent. One user's request passes a one-element array. gpc_receipts: the
-- purposes (purpose@notice_version) a Sec-GPC: 1 request of the person opted out of, on any device.
SELECT u.user_id, u.personalization_level, u.is_minor, u.objected_to_marketing, u.consent_version,
       coalesce(array_agg(c.purpose) FILTER (WHERE c.purpose IS NOT NULL), '{}') AS purposes,
       coalesce(array_agg(c.granted) FILTER (WHERE c.purpose IS NOT NULL), '{}') AS granted,
       coalesce(array_agg(c.notice_version) FILTER (WHERE c.purpose IS NOT NULL), '{}') AS versions,
       coalesce(array_agg(c.overrides_gpc) FILTER (WHERE c.purpose IS NOT NULL), '{}') AS overrides,
       coalesce((SELECT array_agg(e.purpose || '@' || e.notice_version) FROM consent_events e
                 WHERE e.user_id = u.user_id AND e.method = 'gpc'), '{}') AS gpc_receipts
FROM users u
LEFT JOIN consents c ON c.user_id = u.user_id
WHERE u.user_id = ANY($1::bigint[])
GROUP BY u.user_id

-- name: record_gpc
-- Record the GPC signal: one opt-out receipt per marketing purpose ($2) and notice version ($3),
-- once (the unique partial index consent_events_gpc_once makes repeats and concurrent requests
-- no-ops). Run only when the snapshot saw a receipt missing, so the steady state writes nothing.
-- The receipt is the person's opt-out on every device until they opt in again explicitly, so a
-- new receipt moves consent_version (snapshots, ETags and caches of their other devices change).
WITH receipts AS (
    INSERT INTO consent_events (user_id, purpose, granted, method, notice_version, note)
    SELECT u.user_id, x.purpose, false, 'gpc', x.version,
           'Sec-GPC: 1 received; treated as an opt-out of this marketing purpose on every device '
           'until you opt in again'
    FROM users u, unnest($2::text[], $3::int[]) AS x(purpose, version)
    WHERE u.user_id = $1
    FOR KEY SHARE OF u  -- waits for a concurrent erasure, then finds no account
    ON CONFLICT (user_id, purpose, notice_version) WHERE method = 'gpc' DO NOTHING
    RETURNING user_id
)
-- count(*), not EXISTS: every receipt is inserted before the account row is updated (a row this
-- statement updated would be skipped by the insert's FOR KEY SHARE).
UPDATE users SET consent_version = consent_version + 1
WHERE user_id = $1 AND (SELECT count(*) FROM receipts) > 0

-- name: set_consent
-- One explicit choice: receipt + current state + consent_version bump + audit, in one statement
-- (so in one transaction). %(gpc)s = the request carries GPC; an opt-in to a marketing purpose
-- while GPC is on, or after a GPC receipt for the same notice version, is a conflict the user resolved.
WITH u AS (
    UPDATE users SET consent_version = consent_version + 1
    WHERE user_id = %(a_subject)s
    RETURNING user_id
), conflict AS (
    SELECT %(granted)s::boolean AND %(marketing)s::boolean AND (
        %(gpc)s::boolean OR EXISTS (
            SELECT 1 FROM consent_events e
            WHERE e.user_id = %(a_subject)s AND e.purpose = %(choice)s AND e.method = 'gpc'
              AND e.notice_version = %(version)s
        )
    ) AS resolved
), receipt AS (
    INSERT INTO consent_events (user_id, purpose, granted, method, notice_version, note)
    SELECT u.user_id, %(choice)s, %(granted)s, 'explicit', %(version)s,
           CASE WHEN conflict.resolved THEN
               'conflict with Global Privacy Control resolved by the user: this explicit opt-in '
               'overrides GPC for this purpose and notice version'
           END
    FROM u, conflict
    RETURNING receipt_id, purpose, granted, method, notice_version, note, at
), current AS (
    INSERT INTO consents (user_id, purpose, granted, method, notice_version, updated_at, overrides_gpc)
    SELECT u.user_id, %(choice)s, %(granted)s, 'explicit', %(version)s, now(), conflict.resolved
    FROM u, conflict
    ON CONFLICT (user_id, purpose) DO UPDATE
        SET granted = excluded.granted, method = excluded.method,
            notice_version = excluded.notice_version, updated_at = excluded.updated_at,
            overrides_gpc = excluded.overrides_gpc
), @audit_write(u)
SELECT receipt_id, purpose, granted, method, notice_version, note, at FROM receipt

-- name: object_to_marketing
-- Objection to direct marketing (Art. 21): flag + every marketing purpose off, with receipts.
WITH u AS (
    UPDATE users SET objected_to_marketing = true, consent_version = consent_version + 1
    WHERE user_id = %(a_subject)s
    RETURNING user_id
), receipts AS (
    INSERT INTO consent_events (user_id, purpose, granted, method, notice_version, note)
    SELECT u.user_id, x.purpose, false, 'objection', x.version, 'objection to direct marketing'
    FROM u, unnest(%(purposes)s::text[], %(versions)s::int[]) AS x(purpose, version)
    RETURNING receipt_id, purpose, granted, method, notice_version, note, at
), current AS (
    INSERT INTO consents (user_id, purpose, granted, method, notice_version, updated_at, overrides_gpc)
    SELECT u.user_id, x.purpose, false, 'objection', x.version, now(), false
    FROM u, unnest(%(purposes)s::text[], %(versions)s::int[]) AS x(purpose, version)
    ON CONFLICT (user_id, purpose) DO UPDATE
        SET granted = false, method = 'objection', notice_version = excluded.notice_version,
            updated_at = excluded.updated_at, overrides_gpc = false
), @audit_write(u)
SELECT receipt_id, purpose, granted, method, notice_version, note, at FROM receipts ORDER BY purpose

-- name: withdraw_marketing_objection
-- Withdraw the objection explicitly; marketing purposes stay off until the user opts in again.
WITH u AS (
    UPDATE users SET objected_to_marketing = false, consent_version = consent_version + 1
    WHERE user_id = %(a_subject)s AND objected_to_marketing
    RETURNING user_id
), receipts AS (
    INSERT INTO consent_events (user_id, purpose, granted, method, notice_version, note)
    SELECT u.user_id, x.purpose, false, 'explicit', x.version,
           'objection to direct marketing withdrawn; this purpose stays off until you opt in'
    FROM u, unnest(%(purposes)s::text[], %(versions)s::int[]) AS x(purpose, version)
    RETURNING receipt_id, purpose, granted, method, notice_version, note, at
), @audit_write(u)
SELECT receipt_id, purpose, granted, method, notice_version, note, at FROM receipts ORDER BY purpose

-- name: set_personalization_level
-- Change the personalization level; bumps consent_version so snapshots and ETags change.
WITH u AS (
    UPDATE users SET personalization_level = %(level)s, consent_version = consent_version + 1
    WHERE user_id = %(a_subject)s
    RETURNING user_id, personalization_level, consent_version
), @audit_write(u)
SELECT personalization_level, consent_version FROM u

-- name: consent_history
-- The user's receipts, newest first, bounded by $2.
SELECT receipt_id, purpose, granted, method, notice_version, note, at
FROM consent_events WHERE user_id = $1
ORDER BY at DESC, receipt_id
LIMIT $2

-- name: consent_snapshot_page
-- The next page of users after id $1 (keyset, at most $2), with what consent_snapshots returns.
SELECT u.user_id, u.personalization_level, u.is_minor, u.objected_to_marketing, u.consent_version,
       coalesce(array_agg(c.purpose) FILTER (WHERE c.purpose IS NOT NULL), '{}') AS purposes,
       coalesce(array_agg(c.granted) FILTER (WHERE c.purpose IS NOT NULL), '{}') AS granted,
       coalesce(array_agg(c.notice_version) FILTER (WHERE c.purpose IS NOT NULL), '{}') AS versions,
       coalesce(array_agg(c.overrides_gpc) FILTER (WHERE c.purpose IS NOT NULL), '{}') AS overrides,
       coalesce((SELECT array_agg(e.purpose || '@' || e.notice_version) FROM consent_events e
                 WHERE e.user_id = u.user_id AND e.method = 'gpc'), '{}') AS gpc_receipts
FROM (SELECT user_id FROM users WHERE user_id > $1 ORDER BY user_id LIMIT $2) page
JOIN users u ON u.user_id = page.user_id
LEFT JOIN consents c ON c.user_id = u.user_id
GROUP BY u.user_id
ORDER BY u.user_id
