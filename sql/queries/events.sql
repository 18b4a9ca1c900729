-- name: items_for_events
-- Catalog facts the event validator needs (existence, kind, default price).
SELECT item_id, kind, price_cents
FROM items WHERE item_id = ANY($1::bigint[])

-- name: lock_user_signals
-- Create missing rollup rows and lock every user's row, in id order, for the rest of the batch:
-- concurrent batches for one user serialise here and never deadlock (DO UPDATE ... WHERE false
-- writes nothing but still locks the conflicting rows).
INSERT INTO user_signals (user_id)
SELECT u FROM unnest($1::bigint[]) AS u ORDER BY u
ON CONFLICT (user_id) DO UPDATE SET updated_at = excluded.updated_at WHERE false

-- name: ingest_events
-- Insert a batch (duplicates skipped) and apply the increments of only the newly inserted rows to
-- user_signals and user_category_stats; returns the ids that were inserted.
WITH input AS (
    SELECT *
    FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
                $7::text[], $8::text[], $9::timestamptz[])
        AS x(user_id, event_id, type, item_id, value, feature, query, platform, occurred_at)
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
           bool_or(type IN ('session_start', 'feature_used', 'purchase', 'booking')) AS layout_changed,
           bool_or(type IN ('add_to_cart', 'remove_from_cart', 'purchase')) AS cart_changed
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
           jsonb_object_agg(item_id::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) AS delta,
           array_agg(item_id::text) AS item_keys
    FROM (SELECT user_id, item_id, max(occurred_at) AS at
          FROM new_rows WHERE type = 'purchase' GROUP BY 1, 2) AS b
    GROUP BY user_id
), cart AS (
    SELECT user_id, jsonb_object_agg(item_id::text, qty) AS delta
    FROM (SELECT user_id, item_id,
                 sum(CASE type WHEN 'add_to_cart' THEN coalesce(value, 1) ELSE -coalesce(value, 1) END) AS qty
          FROM new_rows WHERE type IN ('add_to_cart', 'remove_from_cart') GROUP BY 1, 2) AS c
    GROUP BY user_id
), new_cart AS (
    -- A purchase takes the item out of the cart.
    SELECT p.user_id,
           jsonb_add_counts(s.cart, coalesce(c.delta, '{}')) - coalesce(b.item_keys, '{}') AS cart
    FROM per_user p
    JOIN user_signals s ON s.user_id = p.user_id
    LEFT JOIN cart c ON c.user_id = p.user_id
    LEFT JOIN bought b ON b.user_id = p.user_id
    WHERE p.cart_changed
), upd AS (
    UPDATE user_signals s SET
        sessions = s.sessions + p.sessions,
        first_seen = least(s.first_seen, p.first_seen),
        last_seen = greatest(s.last_seen, p.last_seen),
        views = s.views + p.views,
        clicks = s.clicks + p.clicks,
        add_to_carts = s.add_to_carts + p.add_to_carts,
        purchases = s.purchases + p.purchases,
        bookings = s.bookings + p.bookings,
        total_spend_cents = s.total_spend_cents + p.spend,
        spend_by_day = CASE WHEN sp.delta IS NULL THEN s.spend_by_day
                            ELSE jsonb_keep_days(jsonb_add_counts(s.spend_by_day, sp.delta),
                                                 (now() AT TIME ZONE 'UTC')::date - 400) END,
        price_level_counts = ARRAY[s.price_level_counts[1] + p.levels[1], s.price_level_counts[2] + p.levels[2],
                                   s.price_level_counts[3] + p.levels[3], s.price_level_counts[4] + p.levels[4]],
        feature_counts = CASE WHEN f.delta IS NULL THEN s.feature_counts
                              ELSE jsonb_add_counts(s.feature_counts, f.delta) END,
        category_affinity = CASE WHEN a.delta IS NULL THEN s.category_affinity
                                 ELSE jsonb_add_counts(s.category_affinity, a.delta) END,
        purchased_items = CASE WHEN b.delta IS NULL THEN s.purchased_items
                               ELSE jsonb_latest_times(s.purchased_items, b.delta) END,
        cart = coalesce(nc.cart, s.cart),
        cart_value_cents = CASE WHEN nc.cart IS NULL THEN s.cart_value_cents ELSE cart_value_cents(nc.cart) END,
        cart_updated_at = CASE WHEN nc.cart IS NULL THEN s.cart_updated_at ELSE now() END,
        layout_inputs_version = s.layout_inputs_version + p.layout_changed::int,
        updated_at = now()
    FROM per_user p
    LEFT JOIN spend sp ON sp.user_id = p.user_id
    LEFT JOIN features f ON f.user_id = p.user_id
    LEFT JOIN affinity a ON a.user_id = p.user_id
    LEFT JOIN bought b ON b.user_id = p.user_id
    LEFT JOIN new_cart nc ON nc.user_id = p.user_id
    WHERE s.user_id = p.user_id
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
)
SELECT user_id, event_id FROM ins

-- name: load_consent_snapshots
-- load_consent_snapshot for several users at once (an app's batch); unknown ids are absent.
SELECT u.user_id, u.personalization_level, u.is_minor, u.objected_to_marketing, u.consent_version,
       coalesce(array_agg(c.purpose) FILTER (WHERE c.granted), '{}') AS granted
FROM users u
LEFT JOIN consents c ON c.user_id = u.user_id
WHERE u.user_id = ANY($1::bigint[])
GROUP BY u.user_id
