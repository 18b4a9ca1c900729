-- The notification outbox (migration 0320): queued with the decision records that made the
-- messages, claimed by the delivery job under per-person locks, marked sent or failed.

-- name: outbox_queue
-- Queue messages and write the decision record of each one that was queued, in one statement (one
-- transaction). Every parameter is an array with one element per message (the message, then its
-- decision record). A message whose (user, dedupe key) is already in the outbox is skipped, and so is
-- its record. FOR KEY SHARE on the accounts: an erasure (which locks the account FOR UPDATE)
-- either runs first, and then nothing is written for the erased person, or waits and deletes it.
WITH input AS (
    SELECT *
    FROM unnest(%(people)s::bigint[], %(message_ids)s::uuid[], %(kinds)s::text[], %(channels)s::text[], %(purposes)s::text[], %(sources)s::text[], %(dedupe_keys)s::text[],
                %(decision_ids)s::uuid[], %(messages)s::jsonb[], %(surfaces)s::text[], %(subject_kinds)s::text[], %(subject_ids)s::text[], %(modes)s::text[],
                %(records)s::jsonb[], %(snapshot_ids)s::text[], %(generated_ats)s::timestamptz[])
        AS x(user_id, message_id, kind, channel, purpose, source, dedupe_key, decision_id, message,
             surface, subject_kind, subject_id, mode, record, snapshot_id, generated_at)
), live AS (
    SELECT user_id FROM users WHERE user_id IN (SELECT user_id FROM input) ORDER BY user_id FOR KEY SHARE
), queued AS (
    INSERT INTO outbox (user_id, message_id, kind, channel, purpose, source, dedupe_key, decision_id, message)
    SELECT i.user_id, i.message_id, i.kind, i.channel, i.purpose, i.source, i.dedupe_key, i.decision_id, i.message
    FROM input i
    WHERE i.user_id IN (SELECT user_id FROM live)
    ORDER BY i.user_id, i.dedupe_key
    ON CONFLICT (user_id, dedupe_key) DO NOTHING
    RETURNING user_id, decision_id
), recorded AS (
    INSERT INTO decisions (user_id, decision_id, surface, subject_kind, subject_id, rank, mode, record,
                           consent_snapshot_id, generated_at)
    SELECT i.user_id, i.decision_id, i.surface, i.subject_kind, i.subject_id, NULL, i.mode, i.record,
           i.snapshot_id, i.generated_at
    FROM input i JOIN queued q ON q.user_id = i.user_id AND q.decision_id = i.decision_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM queued) AS queued, (SELECT count(*) FROM recorded) AS recorded

-- name: outbox_claim_candidates
-- Messages due now ($1 of each: queued and due, oldest first; claimed with a lease that ran out),
-- locked for this transaction; rows another claimer holds are skipped. Keys only: what the claim
-- needs to lock the people they belong to; everything read about a person goes through the guard.
WITH due AS (
    SELECT user_id, message_id FROM outbox
    WHERE status = 'queued' AND not_before <= now()
    ORDER BY not_before
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), stale AS (
    SELECT user_id, message_id FROM outbox
    WHERE status = 'sending' AND lease_until < now()
    ORDER BY lease_until
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
SELECT user_id, message_id FROM due
UNION ALL
SELECT user_id, message_id FROM stale

-- name: outbox_lock_people
-- The accounts of the candidates ($1), locked FOR NO KEY UPDATE in id order: a second claimer skips a
-- person being handled (so the per-person cap is counted by one claimer at a time), and so does
-- a claim racing a consent change or an erasure of that person (the next round sees the result).
-- Ingestion and the decision log take FOR KEY SHARE, which does not conflict.
SELECT user_id, preferred_channel, time_zone
FROM users WHERE user_id = ANY($1::bigint[])
ORDER BY user_id
FOR NO KEY UPDATE SKIP LOCKED

-- name: outbox_claim_rows
-- The candidate messages ($2) of the locked people ($1), with the subscription of their channel.
SELECT o.user_id, o.message_id, o.kind, o.channel::text AS channel, o.purpose, o.source, o.status,
       o.attempts, o.claimed_at, o.decision_id, o.message, o.created_at, c.subscribed
FROM outbox o
JOIN unnest($2::uuid[]) AS k(message_id) ON k.message_id = o.message_id
LEFT JOIN user_channels c ON c.user_id = o.user_id AND c.channel = o.channel
WHERE o.user_id = ANY ($1::bigint[])
ORDER BY o.user_id, o.created_at, o.message_id

-- name: outbox_recent_sends
-- Per person: messages claimed in the cap window ($2 seconds) and still counted (sending or
-- sent, whatever the channel), and when the oldest of them was claimed.
SELECT user_id, count(*) AS sends, min(claimed_at) AS oldest
FROM outbox
WHERE user_id = ANY($1::bigint[]) AND status IN ('sending', 'sent')
  AND claimed_at > now() - make_interval(secs => $2)
GROUP BY user_id

-- name: outbox_apply_verdicts
-- The claim's outcome per message: 'sending' (claimed with token $5, lease $7 seconds), 'queued'
-- again with a later not_before (quiet hours, cap), or 'cancelled' with its reason.
UPDATE outbox o
SET status = v.status,
    not_before = coalesce(v.not_before, o.not_before),
    claim_token = CASE WHEN v.status = 'sending' THEN v.token END,
    claimed_at = CASE WHEN v.status = 'sending' THEN coalesce(o.claimed_at, now()) ELSE o.claimed_at END,
    lease_until = CASE WHEN v.status = 'sending' THEN now() + make_interval(secs => $7) END,
    attempts = o.attempts + CASE WHEN v.status = 'sending' THEN 1 ELSE 0 END,
    status_reason = CASE WHEN v.status = 'sending' THEN NULL ELSE v.reason END,
    updated_at = now()
FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::timestamptz[], $5::uuid[], $6::text[])
    AS v(user_id, message_id, status, not_before, token, reason)
WHERE o.user_id = v.user_id AND o.message_id = v.message_id

-- name: outbox_mark_sent
-- Confirmed by the sink: only the claim that sent it may confirm it (token).
UPDATE outbox o
SET status = 'sent', sent_at = now(), lease_until = NULL, last_error = NULL, updated_at = now()
FROM unnest($1::bigint[], $2::uuid[], $3::uuid[]) AS v(user_id, message_id, token)
WHERE o.user_id = v.user_id AND o.message_id = v.message_id AND o.status = 'sending'
  AND o.claim_token = v.token

-- name: outbox_mark_failed
-- A send that failed: queued again after a delay ($5 seconds each), or 'failed' when permanent
-- ($4) or out of attempts ($7); it no longer holds a place under the cap.
UPDATE outbox o
SET status = CASE WHEN v.permanent OR o.attempts >= $7 THEN 'failed' ELSE 'queued' END,
    not_before = now() + make_interval(secs => v.delay),
    last_error = v.error,
    claim_token = NULL, claimed_at = NULL, lease_until = NULL, updated_at = now()
FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::boolean[], $5::float8[], $6::text[])
    AS v(user_id, message_id, token, permanent, delay, error)
WHERE o.user_id = v.user_id AND o.message_id = v.message_id AND o.status = 'sending'
  AND o.claim_token = v.token

-- name: outbox_reminder_candidates
-- Of the people $1, those who could get a reminder now: a preferred channel they are subscribed
-- to, with their controls (what they hid or stopped reminders for) and their stored language
-- (NULL: English; a message has no request to negotiate one from). Account data; the consent
-- rules are applied per person in Python, as for `viewer { reminders }`.
SELECT u.user_id, u.preferred_channel::text AS preferred_channel, u.time_zone, u.language,
       k.control_kinds, k.control_targets, k.control_created
FROM users u
JOIN user_channels c ON c.user_id = u.user_id AND c.channel = u.preferred_channel AND c.subscribed
@user_controls(u)
WHERE u.user_id = ANY ($1::bigint[])
ORDER BY u.user_id

-- name: users_key_dates
-- The key dates (day and month only) a batch of people stated, and how many days ahead they want
-- reminders: $2 the declared fields (resolvers/reminders/key_dates.py READ_FIELDS).
SELECT user_id, field, value
FROM profile_fields
WHERE user_id = ANY ($1::bigint[]) AND field = ANY ($2::text[]) AND source = 'stated_by_user'
ORDER BY user_id, field


-- name: outbox_offer_candidates
-- Of the people $1, those who could get a channel offer now: a preferred channel among $2 (email,
-- push) they are subscribed to, with what offer targeting may use of the account (creation,
-- country, platform), their controls (hidden offers, items, inferences) and their stored language.
-- Account data; the consent rules are applied per person in Python, as for `viewer { offers }`.
SELECT u.user_id, u.preferred_channel::text AS preferred_channel, u.language, u.created_at, u.country,
       u.platform::text AS platform,
       k.control_kinds, k.control_targets, k.control_created
FROM users u
JOIN user_channels c ON c.user_id = u.user_id AND c.channel = u.preferred_channel AND c.subscribed
@user_controls(u)
WHERE u.user_id = ANY ($1::bigint[]) AND u.preferred_channel::text = ANY ($2::text[])
ORDER BY u.user_id

-- name: outbox_channel_offer_people
-- Which of the people $1 already have a channel offer in the outbox for the period $2 (its dedupe
-- key ends with it; queued, sent, failed or cancelled alike): one channel offer per period.
SELECT DISTINCT user_id FROM outbox
WHERE user_id = ANY ($1::bigint[]) AND kind = 'channel_offer' AND dedupe_key LIKE 'channel_offer:%:' || $2
