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
-- maintenance_work_mem: the keys and indexes seed_restore_checks builds sort in memory.
SELECT set_config('synchronous_commit', 'off', true), set_config('work_mem', '128MB', true),
       set_config('maintenance_work_mem', '256MB', true), set_config('statement_timeout', '0', true)

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
VALUES (%(item_id)s, %(sku)s, %(name)s, %(category)s, %(subcategory)s, %(kind)s, %(price_cents)s,
        %(price_level)s, %(is_consumable)s, %(repurchase_days)s, %(sensitive_topic)s, %(popularity)s,
        %(editorial_rank)s, true)
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
-- Users from staging codes ($1 levels, $2 birth ranges, $3 countries, $4 platforms, $5 channels;
-- $6: the bit of analytics.aggregate in the consent masks: analytics_consent is what the consents
-- loaded next say, as their trigger would have set it).
INSERT INTO users (user_id, created_at, personalization_level, is_minor, birth_year_range, country,
                   platform, preferred_channel, objected_to_marketing, consent_version,
                   analytics_consent)
SELECT user_id, created_at, ($1::text[])[level], is_minor, ($2::text[])[birth], ($3::text[])[country],
       ($4::text[])[platform], ($5::text[])[channel], objected,
       CASE WHEN consent_present <> 0 THEN 1 ELSE 0 END,
       ((consent_present::int & consent_granted::int) >> $6) & 1 = 1
FROM seed_users
ORDER BY user_id

-- name: seed_insert_channels
-- Channel subscriptions: bit i of the masks is channel $1[i + 1].
INSERT INTO user_channels (user_id, channel, subscribed, updated_at)
SELECT s.user_id, ($1::text[])[c.i], (s.channels_subscribed::int >> (c.i - 1)) & 1 = 1,
       s.created_at + interval '1 minute'
FROM seed_users s CROSS JOIN generate_series(1, cardinality($1::text[])) AS c(i)
WHERE (s.channels_present::int >> (c.i - 1)) & 1 = 1

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

-- name: seed_apply_rollups
-- The rollups of every event of users $1 <= id < $2, built by the same function ingestion calls
-- ($3 feature names, $4 searches, $5 purchased items and $6 cart lines kept per user).
SELECT apply_rollups(array_agg(user_id), array_agg(type::text), array_agg(item_id), array_agg(value),
                     array_agg(feature), array_agg(query), array_agg(occurred_at), $3, $4, NULL, $5, $6)
FROM events WHERE user_id >= $1 AND user_id < $2
HAVING count(*) > 0

-- name: seed_user_id_range
-- The range of user ids to roll up.
SELECT coalesce(min(user_id), 0) AS lo, coalesce(max(user_id), -1) AS hi FROM users

-- name: seed_empty_signals
-- Users without events still have their (empty) rollup row.
INSERT INTO user_signals (user_id) SELECT user_id FROM users ON CONFLICT DO NOTHING

-- name: seed_bump_dataset_version
-- The audience data changed wholesale: released DP answers must not be reused.
UPDATE dataset_versions SET version = version + 1, updated_at = now() WHERE dataset = 'audience'

-- name: seed_vacuum_audience
-- The tables every analyst template scans, vacuumed and analysed after the load (run alone:
-- VACUUM cannot run inside a transaction block).
VACUUM (ANALYZE) users, user_signals

-- name: seed_analyze
-- Fresh statistics for the planner after a bulk load (users and user_signals: seed_vacuum_audience).
ANALYZE events, user_category_stats, user_spend_days, user_purchases, user_cart,
        user_features, user_searches, consents, items, item_relations

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
       (SELECT md5(string_agg((t.user_id, t.sessions, t.first_seen, t.last_seen, t.views, t.clicks,
                               t.add_to_carts, t.purchases, t.bookings, t.total_spend_cents,
                               t.price_level_counts, t.cart_updated_at, t.distinct_features)::text,
                              '|' ORDER BY t.user_id)) FROM user_signals t) AS user_signals,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.day)) FROM user_spend_days t) AS user_spend_days,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.item_id)) FROM user_purchases t) AS user_purchases,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.item_id)) FROM user_cart t) AS user_cart,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.feature)) FROM user_features t) AS user_features,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.term)) FROM user_searches t) AS user_searches,
       (SELECT md5(string_agg(t::text, '|' ORDER BY t.user_id, t.category)) FROM user_category_stats t)
           AS user_category_stats

-- name: seed_defer_checks
-- A bulk load into an empty database, in one transaction: what costs a lookup or a scattered
-- index insert per loaded row is dropped here and put back by seed_restore_checks before the
-- transaction ends, built or validated once over every row: the foreign keys to users of the
-- tables seeding fills (a key-share lock on the account row, WAL-logged, per row), the keys and
-- indexes of consents and consent_events (loaded one purpose at a time, so each pass would insert
-- all over the index) and two indexes of events (loaded in user order, not in theirs; events_offer
-- stays: no seeded event has an offer, its partial index receives nothing).
-- The definitions are read from the catalog, so they come back exactly as the migrations made
-- them. The trigger keeping users.analytics_consent is off while consents are copied:
-- seed_insert_users set the column, seed_restore_checks checks it.
CREATE TEMP TABLE seed_deferred ON COMMIT DROP AS
SELECT row_number() OVER () AS ord, d.*
FROM (
    SELECT 1 AS phase, format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop_sql,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                  pg_get_constraintdef(c.oid)) AS restore_sql
    FROM pg_constraint c
    WHERE c.contype IN ('p', 'u') AND c.conrelid IN ('consents'::regclass, 'consent_events'::regclass)
    UNION ALL
    SELECT 1, format('DROP INDEX %s', i.indexrelid::regclass),
           -- an index of a partitioned table is built on every partition again
           replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
    FROM pg_index i
    WHERE (i.indrelid IN ('consents'::regclass, 'consent_events'::regclass)
           OR i.indexrelid IN ('events_user_type_time'::regclass, 'events_time'::regclass))
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    UNION ALL
    SELECT 2, format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                  pg_get_constraintdef(c.oid))
    FROM pg_constraint c
    WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass
      AND c.conrelid IN ('consents'::regclass, 'user_channels'::regclass, 'user_signals'::regclass,
                         'user_spend_days'::regclass, 'user_purchases'::regclass,
                         'user_cart'::regclass, 'user_features'::regclass,
                         'user_searches'::regclass, 'user_category_stats'::regclass)
) d;
DO $$
DECLARE
    s text;
BEGIN
    FOR s IN SELECT drop_sql FROM seed_deferred ORDER BY ord LOOP
        EXECUTE s;
    END LOOP;
END $$;
ALTER TABLE consents DISABLE TRIGGER consents_analytics_inserted

-- name: seed_restore_checks
-- Keys and indexes built, then the foreign keys validated (one join each), the trigger back on,
-- and users.analytics_consent set wherever it disagrees with the consents loaded (nowhere, unless
-- the generator and this file drift apart).
DO $$
DECLARE
    s text;
BEGIN
    FOR s IN SELECT restore_sql FROM seed_deferred ORDER BY phase, ord LOOP
        EXECUTE s;
    END LOOP;
END $$;
ALTER TABLE consents ENABLE TRIGGER consents_analytics_inserted;
UPDATE users u SET analytics_consent = g.granted
FROM (SELECT a.user_id, c.user_id IS NOT NULL AS granted
      FROM users a
      LEFT JOIN consents c ON c.user_id = a.user_id AND c.purpose = 'analytics.aggregate' AND c.granted) g
WHERE g.user_id = u.user_id AND g.granted <> u.analytics_consent
