-- name: export_account
-- The account row, every column the user may see (export, Art. 15/20).
SELECT user_id, created_at, personalization_level, is_minor, birth_year_range, country, platform,
       preferred_channel, time_zone, objected_to_marketing, consent_version
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
-- Every control the user applied (hidden items and offers, less like this, reminders stopped).
SELECT kind::text AS kind, target, created_at FROM user_controls WHERE user_id = $1 ORDER BY kind, target

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
SELECT count(*) OVER () AS total, decision_id, surface, subject_kind, subject_id, rank, mode, record,
       consent_snapshot_id, generated_at
FROM decisions WHERE user_id = $1
ORDER BY generated_at DESC, decision_id
LIMIT $2

-- name: export_impression_counts
-- Frequency counters: impressions per offer and channel.
SELECT offer_id, channel, count(*) AS impressions, min(shown_at) AS first_shown, max(shown_at) AS last_shown
FROM impressions WHERE user_id = $1
GROUP BY offer_id, channel ORDER BY offer_id, channel

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
