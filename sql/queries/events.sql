-- name: items_for_events
-- Catalog facts the event validator needs (existence, kind, default price).
SELECT item_id, kind, price_cents
FROM items WHERE item_id = ANY($1::bigint[])

-- name: ensure_user_signals
-- Create missing rollup rows (a no-op without WAL, so without a commit flush, once they exist).
INSERT INTO user_signals (user_id)
SELECT u FROM unnest($1::bigint[]) AS u ORDER BY u
ON CONFLICT (user_id) DO NOTHING

-- name: ingest_events
-- Insert a batch (duplicates skipped) and apply the increments of only the newly inserted rows to
-- user_signals and user_category_stats, and audits the write in the same transaction (no second
-- commit per batch); returns the ids that were inserted.
WITH live AS (
    -- KEY SHARE on the accounts: an erasure (which locks the account row FOR UPDATE) either
    -- finishes first, and then its user's events are not inserted, or waits for this batch and
    -- then deletes them. Without it a batch racing an erasure could leave events behind.
    SELECT user_id FROM users WHERE user_id = ANY($1::bigint[]) FOR KEY SHARE
), input AS (
    SELECT x.*
    FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
                $7::text[], $8::text[], $9::timestamptz[])
        AS x(user_id, event_id, type, item_id, value, feature, query, platform, occurred_at)
    WHERE x.user_id IN (SELECT user_id FROM live)
), ins AS (
    INSERT INTO events (user_id, event_id, type, item_id, value, feature, query, platform, occurred_at)
    SELECT user_id, event_id, type, item_id, value, feature, query, platform, occurred_at
    FROM input ORDER BY user_id, event_id
    ON CONFLICT DO NOTHING
    RETURNING user_id, event_id, type, item_id, value, feature, occurred_at
), new_rows AS (
    SELECT ins.*, i.category, i.price_level, i.sensitive_topic
    FROM ins LEFT JOIN items i ON i.item_id = ins.item_id
), per_user AS (
    SELECT user_id,
           count(*) FILTER (WHERE type = 'session_start') AS sessions,
           min(occurred_at) AS first_seen,
           max(occurred_at) AS last_seen,
           count(*) FILTER (WHERE type = 'view') AS views,
           count(*) FILTER (WHERE type = 'click') AS clicks,
           count(*) FILTER (WHERE type = 'add_to_cart') AS add_to_carts,
           count(*) FILTER (WHERE type = 'purchase') AS purchases,
           count(*) FILTER (WHERE type = 'booking') AS bookings,
           coalesce(sum(value) FILTER (WHERE type = 'purchase'), 0) AS spend,
           ARRAY[count(*) FILTER (WHERE type IN ('purchase', 'booking') AND price_level = 1),
                 count(*) FILTER (WHERE type IN ('purchase', 'booking') AND price_level = 2),
                 count(*) FILTER (WHERE type IN ('purchase', 'booking') AND price_level = 3),
                 count(*) FILTER (WHERE type IN ('purchase', 'booking') AND price_level = 4)]::int[] AS levels,
           bool_or(type IN ('session_start', 'feature_used', 'purchase', 'booking')) AS layout_changed
    FROM new_rows GROUP BY user_id
), spend AS (
    SELECT user_id, jsonb_object_agg(day, cents) AS delta
    FROM (SELECT user_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, sum(value) AS cents
          FROM new_rows WHERE type = 'purchase' GROUP BY 1, 2) AS d
    GROUP BY user_id
), features AS (
    SELECT user_id, jsonb_object_agg(feature, n) AS delta
    FROM (SELECT user_id, feature, count(*) AS n
          FROM new_rows WHERE type = 'feature_used' GROUP BY 1, 2) AS f
    GROUP BY user_id
), affinity AS (
    -- Weights view 1, click 2, add_to_cart 3, purchase 5; sensitive-topic items never count.
    SELECT user_id, jsonb_object_agg(category, w) AS delta
    FROM (SELECT user_id, category,
                 sum(CASE type WHEN 'view' THEN 1 WHEN 'click' THEN 2 WHEN 'add_to_cart' THEN 3 ELSE 5 END) AS w
          FROM new_rows
          WHERE type IN ('view', 'click', 'add_to_cart', 'purchase') AND sensitive_topic IS NULL
            AND category IS NOT NULL
          GROUP BY 1, 2) AS a
    GROUP BY user_id
), bought AS (
    SELECT user_id,
           jsonb_object_agg(item_id::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) AS delta
    FROM (SELECT user_id, item_id, max(occurred_at) AS at
          FROM new_rows WHERE type = 'purchase' GROUP BY 1, 2) AS b
    GROUP BY user_id
), cart AS (
    -- Quantities added minus removed; a purchase takes the item out of the cart (a large negative
    -- delta, as jsonb_add_counts drops keys whose total is not positive).
    SELECT user_id, jsonb_object_agg(item_id::text, qty) AS delta
    FROM (SELECT user_id, item_id,
                 sum(CASE type WHEN 'add_to_cart' THEN coalesce(value, 1)
                               WHEN 'remove_from_cart' THEN -coalesce(value, 1)
                               ELSE -1000000000 END) AS qty
          FROM new_rows WHERE type IN ('add_to_cart', 'remove_from_cart', 'purchase') GROUP BY 1, 2) AS c
    GROUP BY user_id
), deltas AS (
    SELECT p.*, sp.delta AS spend_delta, f.delta AS feature_delta, a.delta AS affinity_delta,
           b.delta AS bought_delta, c.delta AS cart_delta
    FROM per_user p
    LEFT JOIN spend sp ON sp.user_id = p.user_id
    LEFT JOIN features f ON f.user_id = p.user_id
    LEFT JOIN affinity a ON a.user_id = p.user_id
    LEFT JOIN bought b ON b.user_id = p.user_id
    LEFT JOIN cart c ON c.user_id = p.user_id
), upd AS (
    -- The rows exist (ensure_user_signals), so this upsert always takes its DO UPDATE path: it
    -- applies the increments, carried in excluded.*, to the latest committed row (concurrent
    -- batches for one user serialise on the row lock) and locks rows in user id order, so
    -- batches for several users never deadlock; events are inserted, sorted, before any lock.
    INSERT INTO user_signals AS s (
        user_id, sessions, first_seen, last_seen, views, clicks, add_to_carts, purchases, bookings,
        total_spend_cents, spend_by_day, price_level_counts, feature_counts, category_affinity,
        purchased_items, cart, cart_value_cents, cart_updated_at, layout_inputs_version)
    SELECT d.user_id, d.sessions, d.first_seen, d.last_seen, d.views, d.clicks, d.add_to_carts,
           d.purchases, d.bookings, d.spend, coalesce(d.spend_delta, '{}'), d.levels,
           coalesce(d.feature_delta, '{}'), coalesce(d.affinity_delta, '{}'),
           coalesce(d.bought_delta, '{}'), coalesce(d.cart_delta, '{}'), 0, NULL, d.layout_changed::int
    FROM deltas d
    ORDER BY d.user_id
    ON CONFLICT (user_id) DO UPDATE SET
        sessions = s.sessions + excluded.sessions,
        first_seen = least(s.first_seen, excluded.first_seen),
        last_seen = greatest(s.last_seen, excluded.last_seen),
        views = s.views + excluded.views,
        clicks = s.clicks + excluded.clicks,
        add_to_carts = s.add_to_carts + excluded.add_to_carts,
        purchases = s.purchases + excluded.purchases,
        bookings = s.bookings + excluded.bookings,
        total_spend_cents = s.total_spend_cents + excluded.total_spend_cents,
        spend_by_day = CASE WHEN excluded.spend_by_day = '{}' THEN s.spend_by_day
                            ELSE jsonb_keep_days(jsonb_add_counts(s.spend_by_day, excluded.spend_by_day),
                                                 (now() AT TIME ZONE 'UTC')::date - 400) END,
        price_level_counts = ARRAY[s.price_level_counts[1] + excluded.price_level_counts[1],
                                   s.price_level_counts[2] + excluded.price_level_counts[2],
                                   s.price_level_counts[3] + excluded.price_level_counts[3],
                                   s.price_level_counts[4] + excluded.price_level_counts[4]],
        feature_counts = CASE WHEN excluded.feature_counts = '{}' THEN s.feature_counts
                              ELSE jsonb_add_counts(s.feature_counts, excluded.feature_counts) END,
        category_affinity = CASE WHEN excluded.category_affinity = '{}' THEN s.category_affinity
                                 ELSE jsonb_add_counts(s.category_affinity, excluded.category_affinity) END,
        purchased_items = CASE WHEN excluded.purchased_items = '{}' THEN s.purchased_items
                               ELSE jsonb_latest_times(s.purchased_items, excluded.purchased_items) END,
        cart = CASE WHEN excluded.cart = '{}' THEN s.cart ELSE jsonb_add_counts(s.cart, excluded.cart) END,
        cart_value_cents = CASE WHEN excluded.cart = '{}' THEN s.cart_value_cents
                                ELSE cart_value_cents(jsonb_add_counts(s.cart, excluded.cart)) END,
        cart_updated_at = CASE WHEN excluded.cart = '{}' THEN s.cart_updated_at ELSE now() END,
        layout_inputs_version = s.layout_inputs_version + excluded.layout_inputs_version,
        updated_at = now()
    RETURNING s.user_id
), cats AS (
    INSERT INTO user_category_stats AS c (user_id, category, views, add_to_carts, purchases, spend_cents)
    SELECT user_id, category,
           count(*) FILTER (WHERE type = 'view'),
           count(*) FILTER (WHERE type = 'add_to_cart'),
           count(*) FILTER (WHERE type = 'purchase'),
           coalesce(sum(value) FILTER (WHERE type = 'purchase'), 0)
    FROM new_rows
    WHERE category IS NOT NULL AND type IN ('view', 'add_to_cart', 'purchase')
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (user_id, category) DO UPDATE SET
        views = c.views + excluded.views,
        add_to_carts = c.add_to_carts + excluded.add_to_carts,
        purchases = c.purchases + excluded.purchases,
        spend_cents = c.spend_cents + excluded.spend_cents
    RETURNING 1
), audit AS (
    INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose, table_name, action)
    SELECT $10, $11, $12, p.user_id, 'essential.service', t, 'write'
    FROM per_user p CROSS JOIN unnest(ARRAY['events', 'user_signals', 'user_category_stats']) AS t
    ORDER BY p.user_id
    RETURNING 1
)
SELECT user_id, event_id FROM ins
