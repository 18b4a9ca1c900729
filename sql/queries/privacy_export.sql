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
SELECT inference, hidden_at FROM hidden_inferences WHERE user_id = $1 ORDER BY inference

-- name: export_events
-- The most recent events ($2 at most) and, on every row, the total and per-type counts.
WITH counts AS (
    SELECT coalesce(jsonb_object_agg(type, n), '{}'::jsonb) AS by_type, coalesce(sum(n), 0)::bigint AS total
    FROM (SELECT type, count(*) AS n FROM events WHERE user_id = $1 GROUP BY type) t
)
SELECT counts.total, counts.by_type, e.event_id, e.type, e.item_id, e.value, e.feature, e.query,
       e.platform, e.occurred_at, e.received_at
FROM counts
LEFT JOIN LATERAL (
    SELECT * FROM events WHERE user_id = $1 ORDER BY occurred_at DESC, event_id LIMIT $2
) e ON true

-- name: export_signals
-- The per-user rollup kept from the events.
SELECT sessions, first_seen, last_seen, views, clicks, add_to_carts, purchases, bookings,
       total_spend_cents, spend_by_day, price_level_counts, feature_counts, category_affinity,
       purchased_items, cart, cart_value_cents, cart_updated_at, updated_at
FROM user_signals WHERE user_id = $1

-- name: export_category_stats
-- Per-category rollup.
SELECT category, views, add_to_carts, purchases, spend_cents
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
