-- Demo data (gateway seed). Generated rows arrive by binary COPY into temporary staging tables
-- holding only fixed-width codes; these statements turn codes into rows (code 0 -> NULL, since
-- an out-of-range array subscript is NULL) and then build the rollups from the loaded events.

-- name: seed_demo_row_counts
-- How much data the database already holds: seeding refuses one with users or events (the
-- catalog is reference data and is upserted).
SELECT (SELECT count(*) FROM users) AS users,
       (SELECT count(*) FROM items) AS items,
       (SELECT count(*) FROM events) AS events

-- name: seed_truncate_demo
-- Remove the demo world (--replace): user-scoped tables, with whatever references users.
TRUNCATE users, consent_events, events, impressions, decisions CASCADE

-- name: seed_delete_relations
-- Relations are rebuilt from the catalog; items are upserted so offers pointing at them survive.
DELETE FROM item_relations

-- name: seed_tune_session
-- A bulk load: a lost tail on crash is acceptable, rollups need room to hash, and a large world
-- takes minutes, longer than any statement timeout meant for requests.
SELECT set_config('synchronous_commit', 'off', true), set_config('work_mem', '128MB', true),
       set_config('statement_timeout', '0', true)

-- name: seed_create_staging
-- Staging tables for the binary COPY; dropped with the transaction.
CREATE TEMP TABLE seed_users (
    user_id             bigint NOT NULL,
    created_at          timestamptz NOT NULL,
    level               smallint NOT NULL,
    is_minor            boolean NOT NULL,
    birth               smallint NOT NULL,
    country             smallint NOT NULL,
    platform            smallint NOT NULL,
    channel             smallint NOT NULL,
    objected            boolean NOT NULL,
    consent_present     smallint NOT NULL,
    consent_granted     smallint NOT NULL,
    channels_present    smallint NOT NULL,
    channels_subscribed smallint NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE seed_events (
    user_id     bigint NOT NULL,
    event_id    uuid NOT NULL,
    type        smallint NOT NULL,
    item_id     bigint NOT NULL,
    value       bigint NOT NULL,
    feature     smallint NOT NULL,
    query       smallint NOT NULL,
    platform    smallint NOT NULL,
    occurred_at timestamptz NOT NULL
) ON COMMIT DROP

-- name: seed_upsert_item
-- One catalog item; an existing id is overwritten.
INSERT INTO items (item_id, sku, name, category, subcategory, kind, price_cents, price_level,
                   is_consumable, repurchase_days, sensitive_topic, popularity, editorial_rank, active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, true)
ON CONFLICT (item_id) DO UPDATE SET
    sku = EXCLUDED.sku, name = EXCLUDED.name, category = EXCLUDED.category,
    subcategory = EXCLUDED.subcategory, kind = EXCLUDED.kind, price_cents = EXCLUDED.price_cents,
    price_level = EXCLUDED.price_level, is_consumable = EXCLUDED.is_consumable,
    repurchase_days = EXCLUDED.repurchase_days, sensitive_topic = EXCLUDED.sensitive_topic,
    popularity = EXCLUDED.popularity, editorial_rank = EXCLUDED.editorial_rank, active = true

-- name: seed_insert_relations
-- Complement and substitute pairs of the catalog.
INSERT INTO item_relations (item_id, related_item_id, relation, strength)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::real[])

-- name: seed_insert_users
-- Users from staging codes ($1 levels, $2 birth ranges, $3 countries, $4 platforms, $5 channels).
INSERT INTO users (user_id, created_at, personalization_level, is_minor, birth_year_range, country,
                   platform, preferred_channel, objected_to_marketing, consent_version)
SELECT user_id, created_at, ($1::text[])[level], is_minor, ($2::text[])[birth], ($3::text[])[country],
       ($4::text[])[platform], ($5::text[])[channel], objected,
       CASE WHEN consent_present <> 0 THEN 1 ELSE 0 END
FROM seed_users
ORDER BY user_id

-- name: seed_insert_channels
-- Channel subscriptions: bit i of the masks is channel $1[i + 1].
INSERT INTO user_channels (user_id, channel, subscribed, updated_at)
SELECT s.user_id, ($1::text[])[c.i], (s.channels_subscribed::int >> (c.i - 1)) & 1 = 1,
       s.created_at + interval '1 minute'
FROM seed_users s CROSS JOIN generate_series(1, cardinality($1::text[])) AS c(i)
WHERE (s.channels_present::int >> (c.i - 1)) & 1 = 1

-- name: seed_insert_consents
-- Current consent per purpose ($1 purposes, $2 notice versions), given explicitly at sign-up.
INSERT INTO consents (user_id, purpose, granted, method, notice_version, updated_at)
SELECT s.user_id, ($1::text[])[p.i], (s.consent_granted::int >> (p.i - 1)) & 1 = 1, 'explicit',
       ($2::int[])[p.i], s.created_at + interval '1 minute'
FROM seed_users s CROSS JOIN generate_series(1, cardinality($1::text[])) AS p(i)
WHERE (s.consent_present::int >> (p.i - 1)) & 1 = 1

-- name: seed_insert_consent_receipts
-- The receipt behind each consent row; receipt ids derive from the seed ($3) so reseeding repeats them.
INSERT INTO consent_events (user_id, receipt_id, purpose, granted, method, notice_version, note, at)
SELECT s.user_id, md5($3::text || ':' || s.user_id || ':' || p.i)::uuid, ($1::text[])[p.i],
       (s.consent_granted::int >> (p.i - 1)) & 1 = 1, 'explicit', ($2::int[])[p.i], 'demo seed',
       s.created_at + interval '1 minute'
FROM seed_users s CROSS JOIN generate_series(1, cardinality($1::text[])) AS p(i)
WHERE (s.consent_present::int >> (p.i - 1)) & 1 = 1

-- name: seed_move_events
-- Staged events into events ($1 types, $2 features, $3 queries, $4 platforms).
INSERT INTO events (user_id, event_id, type, item_id, value, feature, query, platform, occurred_at,
                    received_at)
SELECT user_id, event_id, ($1::text[])[type], NULLIF(item_id, 0), NULLIF(value, -1),
       ($2::text[])[feature], ($3::text[])[query], ($4::text[])[platform], occurred_at, occurred_at
FROM seed_events

-- name: seed_clear_staged_events
-- Empty the staging table between chunks (TRUNCATE leaves no dead rows behind, unlike DELETE).
TRUNCATE seed_events

-- name: seed_build_user_signals
-- The per-user rollup, as ingestion would have left it after these events ($1: as-of time for
-- the 400-day spend window). Sensitive categories never feed category_affinity.
INSERT INTO user_signals (user_id, sessions, first_seen, last_seen, views, clicks, add_to_carts,
                          purchases, bookings, total_spend_cents, spend_by_day, price_level_counts,
                          feature_counts, category_affinity, purchased_items, cart, cart_value_cents,
                          cart_updated_at, updated_at)
WITH base AS (
    SELECT user_id,
           count(*) FILTER (WHERE type = 'session_start') AS sessions,
           min(occurred_at) AS first_seen,
           max(occurred_at) AS last_seen,
           count(*) FILTER (WHERE type = 'view') AS views,
           count(*) FILTER (WHERE type = 'click') AS clicks,
           count(*) FILTER (WHERE type = 'add_to_cart') AS add_to_carts,
           count(*) FILTER (WHERE type = 'purchase') AS purchases,
           count(*) FILTER (WHERE type = 'booking') AS bookings,
           coalesce(sum(value) FILTER (WHERE type = 'purchase'), 0) AS total_spend_cents,
           max(occurred_at) FILTER (WHERE type IN ('add_to_cart', 'remove_from_cart', 'purchase'))
               AS cart_updated_at
    FROM events GROUP BY user_id
), spend AS (
    SELECT user_id, jsonb_object_agg(day, cents) AS spend_by_day
    FROM (SELECT user_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
                 sum(value) AS cents
          FROM events
          WHERE type = 'purchase' AND occurred_at >= $1::timestamptz - interval '400 days'
          GROUP BY 1, 2) d
    GROUP BY user_id
), levels AS (
    SELECT e.user_id,
           ARRAY[count(*) FILTER (WHERE i.price_level = 1), count(*) FILTER (WHERE i.price_level = 2),
                 count(*) FILTER (WHERE i.price_level = 3), count(*) FILTER (WHERE i.price_level = 4)]::int[]
               AS price_level_counts
    FROM events e JOIN items i ON i.item_id = e.item_id
    WHERE e.type IN ('purchase', 'booking')
    GROUP BY e.user_id
), features AS (
    SELECT user_id, jsonb_object_agg(feature, n) AS feature_counts
    FROM (SELECT user_id, feature, count(*) AS n FROM events
          WHERE type = 'feature_used' AND feature IS NOT NULL GROUP BY 1, 2) f
    GROUP BY user_id
), affinity AS (
    SELECT user_id, jsonb_object_agg(category, weight) AS category_affinity
    FROM (SELECT e.user_id, i.category,
                 sum(CASE e.type WHEN 'view' THEN 1 WHEN 'click' THEN 2 WHEN 'add_to_cart' THEN 3
                                 ELSE 5 END) AS weight
          FROM events e JOIN items i ON i.item_id = e.item_id
          WHERE e.type IN ('view', 'click', 'add_to_cart', 'purchase') AND i.sensitive_topic IS NULL
          GROUP BY 1, 2) a
    GROUP BY user_id
), purchased AS (
    SELECT user_id,
           jsonb_object_agg(item_id::text,
                            to_char(last_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
               AS purchased_items
    FROM (SELECT user_id, item_id, max(occurred_at) AS last_at FROM events
          WHERE type = 'purchase' GROUP BY 1, 2) p
    GROUP BY user_id
), cleared AS (
    SELECT user_id, item_id, max(occurred_at) AS cleared_at FROM events
    WHERE type IN ('remove_from_cart', 'purchase') GROUP BY 1, 2
), cart_lines AS (
    -- Added after the item last left the cart (removed or bought).
    SELECT e.user_id, e.item_id, count(*) AS qty
    FROM events e
    LEFT JOIN cleared c ON c.user_id = e.user_id AND c.item_id = e.item_id
    WHERE e.type = 'add_to_cart' AND (c.cleared_at IS NULL OR e.occurred_at > c.cleared_at)
    GROUP BY 1, 2
), carts AS (
    SELECT l.user_id, jsonb_object_agg(l.item_id::text, l.qty) AS cart,
           sum(l.qty * i.price_cents) AS cart_value_cents
    FROM cart_lines l JOIN items i ON i.item_id = l.item_id
    GROUP BY l.user_id
)
SELECT u.user_id, coalesce(b.sessions, 0), b.first_seen, b.last_seen, coalesce(b.views, 0),
       coalesce(b.clicks, 0), coalesce(b.add_to_carts, 0), coalesce(b.purchases, 0),
       coalesce(b.bookings, 0), coalesce(b.total_spend_cents, 0), coalesce(s.spend_by_day, '{}'),
       coalesce(l.price_level_counts, '{0,0,0,0}'), coalesce(f.feature_counts, '{}'),
       coalesce(a.category_affinity, '{}'), coalesce(p.purchased_items, '{}'), coalesce(c.cart, '{}'),
       coalesce(c.cart_value_cents, 0), b.cart_updated_at, $1::timestamptz
FROM users u
LEFT JOIN base b ON b.user_id = u.user_id
LEFT JOIN spend s ON s.user_id = u.user_id
LEFT JOIN levels l ON l.user_id = u.user_id
LEFT JOIN features f ON f.user_id = u.user_id
LEFT JOIN affinity a ON a.user_id = u.user_id
LEFT JOIN purchased p ON p.user_id = u.user_id
LEFT JOIN carts c ON c.user_id = u.user_id
ORDER BY u.user_id

-- name: seed_build_user_category_stats
-- Per user and product category: views, carts, purchases and spend (analytics rollup).
INSERT INTO user_category_stats (user_id, category, views, add_to_carts, purchases, spend_cents)
SELECT e.user_id, i.category,
       count(*) FILTER (WHERE e.type = 'view'),
       count(*) FILTER (WHERE e.type = 'add_to_cart'),
       count(*) FILTER (WHERE e.type = 'purchase'),
       coalesce(sum(e.value) FILTER (WHERE e.type = 'purchase'), 0)
FROM events e JOIN items i ON i.item_id = e.item_id
WHERE e.type IN ('view', 'add_to_cart', 'purchase') AND i.kind = 'product'
GROUP BY e.user_id, i.category
ORDER BY e.user_id, i.category

-- name: seed_bump_dataset_version
-- The audience data changed wholesale: released DP answers must not be reused.
UPDATE dataset_versions SET version = version + 1, updated_at = now() WHERE dataset = 'audience'

-- name: seed_analyze
-- Fresh statistics for the planner after a bulk load.
ANALYZE users, events, user_signals, user_category_stats, consents, items, item_relations

-- name: seed_fingerprint
-- An md5 per demo table over its rows in key order: equal fingerprints mean identical rows.
SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id)) FROM users t) AS users,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.channel)) FROM user_channels t)
           AS user_channels,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.purpose)) FROM consents t) AS consents,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.receipt_id)) FROM consent_events t)
           AS consent_events,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.item_id)) FROM items t) AS items,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.item_id, t.relation, t.related_item_id))
        FROM item_relations t) AS item_relations,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.event_id)) FROM events t) AS events,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id)) FROM user_signals t) AS user_signals,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.category)) FROM user_category_stats t)
           AS user_category_stats
