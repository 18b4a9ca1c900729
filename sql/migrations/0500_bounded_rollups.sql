-- 0500: every per-user rollup table bounded by public configuration, and ingestion's rollup work
-- proportional to what a batch holds.
--
-- 1. user_purchases kept at most p_max_purchases items per user (the most recently bought; ties by
--    the higher item id), user_cart at most p_max_cart_lines lines (a new line past the cap is not
--    added, as new feature names past theirs). With the caps of user_features, user_searches,
--    user_spend_days (400 days) and user_category_stats (one row per declared category), no
--    user-scoped rollup grows with what one person sends (privacy/PROOFS.md, "Timing").
-- 2. apply_rollups skips the statements for the kinds of event a batch does not hold (a batch of
--    views and sessions runs no cart, purchase or search statement), and touches a user's other
--    rows only when the batch changed that user's keys: work O(delta), bounded by the caps.

DROP FUNCTION apply_rollups(bigint[], text[], bigint[], bigint[], text[], text[], timestamptz[], int, int,
                            timestamptz);

-- The one rollup implementation. Ingestion calls it with the events a batch inserted, seeding
-- with every event of a range of users; the upserts are additive, so applying events in any
-- split of users gives the same rollups (tests/test_rollup_agreement.py). Rows are locked user
-- by user in id order (user_signals first), so concurrent batches for several users never
-- deadlock and batches for one user serialise on its row.
-- Cart: per (user, item), a purchase empties the line; adds and removes after the last purchase
-- are summed onto it, and a line whose quantity is not positive is removed.
CREATE FUNCTION apply_rollups(
    p_users bigint[], p_types text[], p_items bigint[], p_values bigint[], p_features text[],
    p_queries text[], p_times timestamptz[], p_max_features int, p_max_searches int,
    p_cart_clock timestamptz, p_max_purchases int, p_max_cart_lines int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    -- The events with their item's catalog facts, joined once.
    delta rollup_event[] := ARRAY(
        SELECT ROW(e.u, e.t, e.i, e.v, e.f, e.q, e.a, i.category, i.price_level,
                   coalesce(i.sensitive, false))::rollup_event
        FROM unnest(p_users, p_types, p_items, p_values, p_features, p_queries, p_times)
             AS e(u, t, i, v, f, q, a)
        LEFT JOIN items i ON i.item_id = e.i);
    today date := (now() AT TIME ZONE 'UTC')::date;
    -- Which statements this batch needs (a kind absent from the batch changes nothing).
    has_purchase boolean;
    has_cart boolean;
    has_feature boolean;
    has_search boolean;
    has_category boolean;
    buyers bigint[];
    grown bigint[];
BEGIN
    SELECT coalesce(bool_or(d.type = 'purchase'), false),
           coalesce(bool_or(d.type IN ('add_to_cart', 'remove_from_cart', 'purchase')), false),
           coalesce(bool_or(d.type = 'feature_used'), false),
           coalesce(bool_or(d.type = 'search'), false),
           coalesce(bool_or(d.category IS NOT NULL AND NOT d.sensitive
                            AND d.type IN ('view', 'click', 'add_to_cart', 'purchase')), false)
    INTO has_purchase, has_cart, has_feature, has_search, has_category
    FROM unnest(delta) d;

    INSERT INTO user_signals AS s (
        user_id, sessions, first_seen, last_seen, views, clicks, add_to_carts, purchases, bookings,
        total_spend_cents, price_level_counts, cart_updated_at, layout_inputs_version, updated_at)
    SELECT d.user_id,
           count(*) FILTER (WHERE d.type = 'session_start'),
           min(d.at), max(d.at),
           count(*) FILTER (WHERE d.type = 'view' AND NOT d.sensitive),
           count(*) FILTER (WHERE d.type = 'click' AND NOT d.sensitive),
           count(*) FILTER (WHERE d.type = 'add_to_cart' AND NOT d.sensitive),
           count(*) FILTER (WHERE d.type = 'purchase' AND NOT d.sensitive),
           count(*) FILTER (WHERE d.type = 'booking' AND NOT d.sensitive),
           coalesce(sum(d.value) FILTER (WHERE d.type = 'purchase' AND NOT d.sensitive), 0),
           ARRAY[count(*) FILTER (WHERE d.type IN ('purchase', 'booking') AND NOT d.sensitive AND d.price_level = 1),
                 count(*) FILTER (WHERE d.type IN ('purchase', 'booking') AND NOT d.sensitive AND d.price_level = 2),
                 count(*) FILTER (WHERE d.type IN ('purchase', 'booking') AND NOT d.sensitive AND d.price_level = 3),
                 count(*) FILTER (WHERE d.type IN ('purchase', 'booking') AND NOT d.sensitive AND d.price_level = 4)]::int[],
           -- When the cart last changed: the ingestion clock (when we learned of it: a late sync
           -- does not make a cart look abandoned on arrival), or the events' own time (a replay).
           CASE WHEN bool_or(d.type IN ('add_to_cart', 'remove_from_cart', 'purchase') AND NOT d.sensitive)
                THEN coalesce(p_cart_clock, max(d.at) FILTER (
                         WHERE d.type IN ('add_to_cart', 'remove_from_cart', 'purchase') AND NOT d.sensitive))
           END,
           (bool_or(d.type IN ('session_start', 'feature_used')
                    OR (d.type IN ('purchase', 'booking') AND NOT d.sensitive)))::int,
           now()
    FROM unnest(delta) d
    GROUP BY d.user_id
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
        price_level_counts = ARRAY[s.price_level_counts[1] + excluded.price_level_counts[1],
                                   s.price_level_counts[2] + excluded.price_level_counts[2],
                                   s.price_level_counts[3] + excluded.price_level_counts[3],
                                   s.price_level_counts[4] + excluded.price_level_counts[4]],
        cart_updated_at = greatest(s.cart_updated_at, excluded.cart_updated_at),
        layout_inputs_version = s.layout_inputs_version + excluded.layout_inputs_version,
        updated_at = now();

    IF has_purchase THEN
        buyers := ARRAY(SELECT DISTINCT d.user_id FROM unnest(delta) d WHERE d.type = 'purchase');

        INSERT INTO user_spend_days AS t (user_id, day, cents)
        SELECT d.user_id, (d.at AT TIME ZONE 'UTC')::date, sum(d.value)
        FROM unnest(delta) d
        WHERE d.type = 'purchase' AND NOT d.sensitive AND (d.at AT TIME ZONE 'UTC')::date >= today - 400
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (user_id, day) DO UPDATE SET cents = t.cents + excluded.cents;
        DELETE FROM user_spend_days t WHERE t.user_id = ANY (buyers) AND t.day < today - 400;

        -- Items bought: a user who gained a new item and now holds more than p_max_purchases loses
        -- the least recently bought (their work stays bounded whatever they buy).
        WITH up AS (
            INSERT INTO user_purchases AS t (user_id, item_id, last_at, times)
            SELECT d.user_id, d.item_id, max(d.at), count(*)
            FROM unnest(delta) d
            WHERE d.type = 'purchase' AND NOT d.sensitive AND d.item_id IS NOT NULL
            GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (user_id, item_id) DO UPDATE
                SET last_at = greatest(t.last_at, excluded.last_at), times = t.times + excluded.times
            RETURNING t.user_id, (t.xmax = 0) AS fresh
        )
        SELECT ARRAY(SELECT DISTINCT up.user_id FROM up WHERE up.fresh) INTO grown;
        IF cardinality(grown) > 0 THEN
            DELETE FROM user_purchases t
            USING (SELECT p.user_id, p.item_id,
                          row_number() OVER (PARTITION BY p.user_id ORDER BY p.last_at DESC, p.item_id DESC) AS pos
                   FROM user_purchases p WHERE p.user_id = ANY (grown)) old
            WHERE t.user_id = old.user_id AND t.item_id = old.item_id AND old.pos > p_max_purchases;
        END IF;
    END IF;

    IF has_cart THEN
        -- A purchase empties the line; what was added or removed after the last purchase is summed on.
        IF has_purchase THEN
            DELETE FROM user_cart c
            USING (SELECT DISTINCT d.user_id, d.item_id FROM unnest(delta) d
                   WHERE d.type = 'purchase' AND NOT d.sensitive AND d.item_id IS NOT NULL) b
            WHERE c.user_id = b.user_id AND c.item_id = b.item_id;
        END IF;
        -- Known lines always change; new ones are added only while the user holds fewer than
        -- p_max_cart_lines lines (first by item id within the batch).
        INSERT INTO user_cart AS c (user_id, item_id, quantity)
        SELECT r.user_id, r.item_id, r.quantity
        FROM (SELECT x.user_id, x.item_id, x.quantity, h.quantity IS NOT NULL AS known,
                     row_number() OVER (PARTITION BY x.user_id, h.quantity IS NULL
                                        ORDER BY x.item_id) AS pos,
                     (SELECT count(*) FROM user_cart o WHERE o.user_id = x.user_id) AS held
              FROM (SELECT d.user_id, d.item_id,
                           sum(CASE d.type WHEN 'add_to_cart' THEN coalesce(d.value, 1)
                                           ELSE -coalesce(d.value, 1) END) AS quantity
                    FROM unnest(delta) d
                    LEFT JOIN (SELECT x.user_id, x.item_id, max(x.at) AS at FROM unnest(delta) x
                               WHERE x.type = 'purchase' GROUP BY 1, 2) b
                           ON b.user_id = d.user_id AND b.item_id = d.item_id
                    WHERE d.type IN ('add_to_cart', 'remove_from_cart') AND NOT d.sensitive
                      AND d.item_id IS NOT NULL AND (b.at IS NULL OR d.at > b.at)
                    GROUP BY 1, 2) x
              LEFT JOIN user_cart h ON h.user_id = x.user_id AND h.item_id = x.item_id) r
        WHERE r.known OR (r.quantity > 0 AND r.held + r.pos <= p_max_cart_lines)
        ORDER BY 1, 2
        ON CONFLICT (user_id, item_id) DO UPDATE SET quantity = c.quantity + excluded.quantity;
        DELETE FROM user_cart c
        WHERE c.user_id = ANY (ARRAY(SELECT d.user_id FROM unnest(delta) d
                                     WHERE d.type IN ('add_to_cart', 'remove_from_cart')))
          AND c.quantity <= 0;
        -- The cart's value at the prices of its last change (what an abandoned-cart rule compares).
        UPDATE user_signals s
        SET cart_value_cents = (SELECT coalesce(sum(c.quantity::bigint * i.price_cents), 0)
                                FROM user_cart c JOIN items i ON i.item_id = c.item_id
                                WHERE c.user_id = s.user_id)
        WHERE s.user_id = ANY (ARRAY(SELECT d.user_id FROM unnest(delta) d
                                     WHERE d.type IN ('add_to_cart', 'remove_from_cart', 'purchase')
                                       AND NOT d.sensitive));
    END IF;

    IF has_feature THEN
        -- Known feature names always count; new ones only while the user holds fewer than
        -- p_max_features (most used first within the batch), so the table stays bounded per user.
        -- distinct_features changes only for users who gained a name.
        WITH up AS (
            INSERT INTO user_features AS f (user_id, feature, uses)
            SELECT r.user_id, r.feature, r.n
            FROM (SELECT x.user_id, x.feature, x.n, h.uses IS NOT NULL AS known,
                         row_number() OVER (PARTITION BY x.user_id, h.uses IS NULL ORDER BY x.n DESC, x.feature) AS pos,
                         (SELECT count(*) FROM user_features o WHERE o.user_id = x.user_id) AS held
                  FROM (SELECT d.user_id, d.feature, count(*) AS n FROM unnest(delta) d
                        WHERE d.type = 'feature_used' AND d.feature IS NOT NULL GROUP BY 1, 2) x
                  LEFT JOIN user_features h ON h.user_id = x.user_id AND h.feature = x.feature) r
            WHERE r.known OR r.held + r.pos <= p_max_features
            ORDER BY 1, 2
            ON CONFLICT (user_id, feature) DO UPDATE SET uses = f.uses + excluded.uses
            RETURNING f.user_id, (f.xmax = 0) AS fresh
        )
        UPDATE user_signals s
        SET distinct_features = s.distinct_features + n.added
        FROM (SELECT up.user_id, count(*) AS added FROM up WHERE up.fresh GROUP BY 1) n
        WHERE s.user_id = n.user_id;
    END IF;

    IF has_search THEN
        INSERT INTO user_searches AS t (user_id, term, last_at, times)
        SELECT d.user_id, left(lower(btrim(d.query)), 200), max(d.at), count(*)
        FROM unnest(delta) d
        WHERE d.type = 'search' AND d.query IS NOT NULL AND btrim(d.query) <> ''
          AND NOT names_sensitive(d.query)
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (user_id, term) DO UPDATE
            SET last_at = greatest(t.last_at, excluded.last_at), times = t.times + excluded.times;
        DELETE FROM user_searches t
        USING (SELECT s.user_id, s.term,
                      row_number() OVER (PARTITION BY s.user_id ORDER BY s.last_at DESC, s.term) AS pos
               FROM user_searches s
               WHERE s.user_id = ANY (ARRAY(SELECT d.user_id FROM unnest(delta) d WHERE d.type = 'search'))) old
        WHERE t.user_id = old.user_id AND t.term = old.term AND old.pos > p_max_searches;
    END IF;

    IF has_category THEN
        INSERT INTO user_category_stats AS c (user_id, category, views, clicks, add_to_carts,
                                              purchases, spend_cents, affinity)
        SELECT d.user_id, d.category,
               count(*) FILTER (WHERE d.type = 'view'),
               count(*) FILTER (WHERE d.type = 'click'),
               count(*) FILTER (WHERE d.type = 'add_to_cart'),
               count(*) FILTER (WHERE d.type = 'purchase'),
               coalesce(sum(d.value) FILTER (WHERE d.type = 'purchase'), 0),
               sum(CASE d.type WHEN 'view' THEN 1 WHEN 'click' THEN 2 WHEN 'add_to_cart' THEN 3
                               ELSE 5 END)
        FROM unnest(delta) d
        WHERE d.category IS NOT NULL AND NOT d.sensitive
          AND d.type IN ('view', 'click', 'add_to_cart', 'purchase')
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (user_id, category) DO UPDATE SET
            views = c.views + excluded.views,
            clicks = c.clicks + excluded.clicks,
            add_to_carts = c.add_to_carts + excluded.add_to_carts,
            purchases = c.purchases + excluded.purchases,
            spend_cents = c.spend_cents + excluded.spend_cents,
            affinity = c.affinity + excluded.affinity;
    END IF;
END $$;

-- Existing rollups brought under the caps' defaults (IngestConfig: 200 items, 50 cart lines).
DELETE FROM user_purchases t
USING (SELECT p.user_id, p.item_id,
              row_number() OVER (PARTITION BY p.user_id ORDER BY p.last_at DESC, p.item_id DESC) AS pos
       FROM user_purchases p) old
WHERE t.user_id = old.user_id AND t.item_id = old.item_id AND old.pos > 200;
CREATE TEMP TABLE trimmed_carts ON COMMIT DROP AS
SELECT user_id FROM user_cart GROUP BY user_id HAVING count(*) > 50;
DELETE FROM user_cart t
USING (SELECT c.user_id, c.item_id, row_number() OVER (PARTITION BY c.user_id ORDER BY c.item_id) AS pos
       FROM user_cart c WHERE c.user_id IN (SELECT user_id FROM trimmed_carts)) old
WHERE t.user_id = old.user_id AND t.item_id = old.item_id AND old.pos > 50;
UPDATE user_signals s
SET cart_value_cents = (SELECT coalesce(sum(c.quantity::bigint * i.price_cents), 0)
                        FROM user_cart c JOIN items i ON i.item_id = c.item_id
                        WHERE c.user_id = s.user_id)
WHERE s.user_id IN (SELECT user_id FROM trimmed_carts);
