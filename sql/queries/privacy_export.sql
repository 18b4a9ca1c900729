-- name: export_account
-- The account row, every column the user may see (export, Art. 15/20).
SELECT user_id, created_at, personalization_level, is_minor, birth_year_range, country, platform,
       preferred_channel, time_zone, language, objected_to_marketing, consent_version
FROM users WHERE user_id = $1

-- name: export_channels
-- Per-channel subscription state.
SELECT channel, subscribed, updated_at FROM user_channels WHERE user_id = $1 ORDER BY channel

-- name: export_consents
-- Current consent per purpose.
SELECT purpose, granted, method, notice_version, overrides_gpc, updated_at
FROM consents WHERE user_id = $1 ORDER BY purpose

-- name: export_hidden_inferences
-- Inferences the user hid.
SELECT target AS inference, created_at AS hidden_at FROM user_controls
WHERE user_id = $1 AND kind = 'hide_inference' ORDER BY target

-- name: export_controls
-- Every control the user applied (hidden items and offers, less like this, reminders stopped),
-- with the name of the item, offer or segment it is about.
SELECT c.kind::text AS kind, c.target, c.created_at,
       coalesce(i.name, o.name, sg.name) AS target_name
FROM user_controls c
LEFT JOIN items i ON c.target LIKE 'item:%' AND i.item_id::text = split_part(c.target, ':', 2)
LEFT JOIN offers o ON c.target LIKE 'offer:%' AND o.offer_id::text = split_part(c.target, ':', 2)
LEFT JOIN segments sg ON c.target LIKE 'segment:%' AND sg.segment_id::text = split_part(c.target, ':', 2)
WHERE c.user_id = $1 ORDER BY c.kind, c.target

-- name: export_events
-- The most recent events ($2 at most), each with its item's name and category and whether it is
-- sensitive (a sensitive item, or a search naming something sensitive: kept for the person, never
-- used for targeting), and on every row the total and per-type counts.
WITH counts AS (
    SELECT coalesce(jsonb_object_agg(type, n), '{}'::jsonb) AS by_type, coalesce(sum(n), 0)::bigint AS total
    FROM (SELECT type, count(*) AS n FROM events WHERE user_id = $1 GROUP BY type) t
)
SELECT counts.total, counts.by_type, e.event_id, e.type::text AS type, e.item_id, i.name AS item_name,
       i.category AS item_category, e.value, e.feature, e.query, e.platform::text AS platform,
       e.offer_id, e.occurred_at, e.received_at,
       coalesce(i.sensitive, false) OR (e.query IS NOT NULL AND names_sensitive(e.query)) AS sensitive
FROM counts
LEFT JOIN LATERAL (
    SELECT * FROM events WHERE user_id = $1 ORDER BY occurred_at DESC, event_id LIMIT $2
) e ON true
LEFT JOIN items i ON i.item_id = e.item_id

-- name: export_signals
-- The per-user rollup kept from the events (sensitive items are left out of it).
SELECT s.sessions, s.first_seen, s.last_seen, s.views, s.clicks, s.add_to_carts, s.purchases, s.bookings,
       s.total_spend_cents, s.price_level_counts, s.distinct_features, s.cart_value_cents, s.cart_updated_at,
       s.updated_at,
       coalesce((SELECT jsonb_object_agg(d.day, d.cents) FROM user_spend_days d WHERE d.user_id = s.user_id), '{}') AS spend_by_day,
       coalesce((SELECT jsonb_agg(jsonb_build_object('item_id', p.item_id, 'item_name', i.name, 'last_at', p.last_at, 'times', p.times) ORDER BY p.item_id)
                 FROM user_purchases p JOIN items i ON i.item_id = p.item_id WHERE p.user_id = s.user_id), '[]') AS purchased_items,
       coalesce((SELECT jsonb_agg(jsonb_build_object('item_id', c.item_id, 'item_name', i.name, 'quantity', c.quantity) ORDER BY c.item_id)
                 FROM user_cart c JOIN items i ON i.item_id = c.item_id WHERE c.user_id = s.user_id), '[]') AS cart,
       coalesce((SELECT jsonb_object_agg(f.feature, f.uses) FROM user_features f WHERE f.user_id = s.user_id), '{}') AS feature_counts,
       coalesce((SELECT jsonb_agg(jsonb_build_object('term', q.term, 'last_at', q.last_at, 'times', q.times) ORDER BY q.last_at DESC)
                 FROM user_searches q WHERE q.user_id = s.user_id), '[]') AS searches
FROM user_signals s WHERE s.user_id = $1

-- name: export_category_stats
-- Per-category rollup.
SELECT category, views, clicks, add_to_carts, purchases, spend_cents, affinity
FROM user_category_stats WHERE user_id = $1 ORDER BY category

-- name: export_decisions
-- The most recent decision records ($2 at most) with the total.
SELECT count(*) OVER () AS total, d.decision_id, d.surface, d.subject_kind, d.subject_id,
       coalesce(i.name, o.name) AS subject_name, d.rank, d.mode, d.record, d.consent_snapshot_id, d.generated_at
FROM decisions d
LEFT JOIN items i ON d.subject_kind IN ('item', 'reminder') AND i.item_id::text = d.subject_id
LEFT JOIN offers o ON d.subject_kind = 'offer' AND o.offer_id::text = d.subject_id
WHERE d.user_id = $1
ORDER BY d.generated_at DESC, d.decision_id
LIMIT $2

-- name: export_impression_counts
-- Frequency counters: impressions per offer and channel.
SELECT m.offer_id, o.name AS offer_name, m.channel, count(*) AS impressions, min(m.shown_at) AS first_shown,
       max(m.shown_at) AS last_shown
FROM impressions m LEFT JOIN offers o ON o.offer_id = m.offer_id
WHERE m.user_id = $1
GROUP BY m.offer_id, o.name, m.channel ORDER BY m.offer_id, m.channel

-- name: export_audit_summary
-- Who read the user's data for which purpose: counts, not every entry.
SELECT principal_role, purpose, table_name, action, count(*) AS entries, max(at) AS last_at
FROM audit_log WHERE subject_user_id = $1
GROUP BY principal_role, purpose, table_name, action
ORDER BY principal_role, purpose, table_name, action

-- name: erase_user
-- Erase every row naming the user, in one transaction (plpgsql over the catalog, migration 0020).
SELECT erasure_id, rows_deleted, tables FROM erase_user($1)

-- name: export_messages
-- The most recent messages ($2 at most) queued or sent to the user, with the total.
SELECT count(*) OVER () AS total, message_id, kind, channel, purpose, status, message, not_before,
       attempts, sent_at, status_reason, created_at, updated_at
FROM outbox WHERE user_id = $1
ORDER BY created_at DESC, message_id
LIMIT $2

-- name: export_events_all
-- Every event of the user, newest first, each with its item's name and category and whether it
-- is sensitive; read through a cursor (the streamed export), so no cap.
SELECT e.event_id, e.type::text AS type, e.item_id, i.name AS item_name, i.category AS item_category,
       e.value, e.feature, e.query, e.platform::text AS platform, e.occurred_at, e.received_at,
       coalesce(i.sensitive, false) OR (e.query IS NOT NULL AND names_sensitive(e.query)) AS sensitive
FROM events e
LEFT JOIN items i ON i.item_id = e.item_id
WHERE e.user_id = $1
ORDER BY e.occurred_at DESC, e.event_id

-- name: export_decisions_all
-- Every decision record of the user, newest first (cursor).
SELECT d.decision_id, d.surface, d.subject_kind, d.subject_id, coalesce(i.name, o.name) AS subject_name,
       d.rank, d.mode, d.record, d.consent_snapshot_id, d.generated_at
FROM decisions d
LEFT JOIN items i ON d.subject_kind IN ('item', 'reminder') AND i.item_id::text = d.subject_id
LEFT JOIN offers o ON d.subject_kind = 'offer' AND o.offer_id::text = d.subject_id
WHERE d.user_id = $1
ORDER BY d.generated_at DESC, d.decision_id

-- name: export_messages_all
-- Every message queued or sent to the user, newest first (cursor).
SELECT message_id, kind, channel, purpose, status, message, not_before, attempts, sent_at, status_reason,
       created_at, updated_at
FROM outbox WHERE user_id = $1
ORDER BY created_at DESC, message_id

-- name: export_consent_history_all
-- Every consent receipt of the user, newest first (cursor).
SELECT receipt_id, purpose, granted, method, notice_version, note, at
FROM consent_events WHERE user_id = $1
ORDER BY at DESC, receipt_id

-- name: export_links_of_user
-- The user's export links that have not expired (their own data: listed in the export).
SELECT created_at, expires_at FROM export_links WHERE user_id = $1 AND expires_at > now()
ORDER BY created_at

-- name: create_export_link
-- A link to the user's complete export, valid until %(expires_at)s; expired links of the user
-- are dropped in the same statement. Audited like every write.
WITH gone AS (
    DELETE FROM export_links WHERE user_id = %(a_subject)s AND expires_at <= now()
), link AS (
    INSERT INTO export_links (token_hash, user_id, expires_at)
    SELECT %(token_hash)s, u.user_id, %(expires_at)s FROM users u WHERE u.user_id = %(a_subject)s
    RETURNING expires_at
), @audit_write(link)
SELECT expires_at FROM link

-- name: export_link_owner
-- Whose export a link opens, while it is valid (the link's secret is its only credential).
SELECT user_id FROM export_links WHERE user_id = $1 AND token_hash = $2 AND expires_at > now()
