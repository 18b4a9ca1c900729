-- 0070: one user model and one rulebook (resolvers/model).
--
-- 1. The data vocabulary as domains, one per enum of privacy/vocabulary.py.
-- 2. The sensitive-data policy of privacy/sensitive.py as two reference tables, and a
--    `sensitive` flag on items kept by a trigger, so SQL can leave sensitive data out at the source.
-- 3. Rollups as narrow per-user tables keyed (user_id, key) with additive upserts (work O(delta),
--    colocated by user_id), bounded per user, with sensitive items and searches left out when they
--    are computed; `apply_rollups` is the one implementation ingestion and seeding both call.
-- 4. The person's controls (hide, show less, stop reminders, hidden inferences) in one table.
-- 5. Offer serving as one statement under a lock on the user's own row (no advisory lock).

-- 1. Vocabulary ------------------------------------------------------------------------------
CREATE DOMAIN platform AS text CHECK (VALUE IN ('web', 'ios', 'android'));
CREATE DOMAIN channel AS text CHECK (VALUE IN ('email', 'sms', 'push', 'in_app'));
CREATE DOMAIN event_type AS text CHECK (VALUE IN ('view', 'click', 'dwell', 'search', 'add_to_cart',
    'remove_from_cart', 'purchase', 'booking', 'session_start', 'feature_used'));
CREATE DOMAIN control_kind AS text CHECK (VALUE IN ('hide_item', 'less_like', 'hide_offer',
    'mute_reminder', 'hide_inference'));

ALTER TABLE users DROP CONSTRAINT users_platform_check;
ALTER TABLE users ALTER COLUMN platform TYPE platform;
ALTER TABLE users DROP CONSTRAINT users_preferred_channel_check;
ALTER TABLE users ALTER COLUMN preferred_channel TYPE channel;
ALTER TABLE user_channels DROP CONSTRAINT user_channels_channel_check;
ALTER TABLE user_channels ALTER COLUMN channel TYPE channel;
ALTER TABLE offers DROP CONSTRAINT offers_channel_check;
ALTER TABLE offers ALTER COLUMN channel TYPE channel;
ALTER TABLE events DROP CONSTRAINT events_type_check;
ALTER TABLE events ALTER COLUMN type TYPE event_type;
UPDATE events SET platform = NULL WHERE platform NOT IN ('web', 'ios', 'android');
ALTER TABLE events ALTER COLUMN platform TYPE platform;

-- 2. Sensitive data ----------------------------------------------------------------------------
CREATE TABLE sensitive_categories (category text PRIMARY KEY);
INSERT INTO sensitive_categories (category) VALUES
    ('health'), ('medication'), ('pharmacy'), ('pregnancy'), ('baby'), ('pregnancy_baby'),
    ('religion'), ('religious_goods'), ('politics'), ('sexual_orientation'), ('lgbtq'),
    ('sexual_health'), ('ethnicity');
CREATE TABLE sensitive_terms (term text PRIMARY KEY);
INSERT INTO sensitive_terms (term) SELECT category FROM sensitive_categories;
INSERT INTO sensitive_terms (term) VALUES
    ('health'), ('medical'), ('pregnan'), ('religio'), ('politic'), ('sexual'), ('orientation'),
    ('lgbt'), ('ethnic'), ('race'), ('precise_location'), ('minor'), ('child'), ('genetic'),
    ('biometric'), ('criminal'), ('trade_union')
ON CONFLICT DO NOTHING;

-- Whether a search text names something sensitive (the rule of privacy.sensitive.names_sensitive).
CREATE FUNCTION names_sensitive(value text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (SELECT 1 FROM sensitive_terms t WHERE strpos(lower(value), t.term) > 0)
$$;

ALTER TABLE items ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
CREATE FUNCTION items_set_sensitive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.sensitive := NEW.sensitive_topic IS NOT NULL
        OR EXISTS (SELECT 1 FROM sensitive_categories c WHERE c.category = NEW.category);
    RETURN NEW;
END $$;
CREATE TRIGGER items_sensitive BEFORE INSERT OR UPDATE OF category, sensitive_topic, sensitive ON items
    FOR EACH ROW EXECUTE FUNCTION items_set_sensitive();
UPDATE items SET sensitive = sensitive;

-- 3. Rollups -------------------------------------------------------------------------------------
-- user_signals keeps the per-user counters (one row per user) and the cart's value; what varies
-- by key moves to narrow tables. Every count here is over non-sensitive items only; the events table keeps
-- everything (the person's export shows it, marked sensitive).
ALTER TABLE user_signals
    DROP COLUMN spend_by_day, DROP COLUMN feature_counts, DROP COLUMN category_affinity,
    DROP COLUMN purchased_items, DROP COLUMN cart,
    ADD COLUMN distinct_features smallint NOT NULL DEFAULT 0;
DROP FUNCTION jsonb_add_counts(jsonb, jsonb);
DROP FUNCTION jsonb_keep_days(jsonb, date);
DROP FUNCTION jsonb_latest_times(jsonb, jsonb);
DROP FUNCTION cart_value_cents(jsonb);

-- Spend per UTC day, the last 400 days (older days are trimmed when the user's spend changes).
CREATE TABLE user_spend_days (
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    day     date NOT NULL,
    cents   bigint NOT NULL,
    PRIMARY KEY (user_id, day)
);
-- Items bought: the last purchase and how often (for complements, repurchase and exclusions).
CREATE TABLE user_purchases (
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    item_id bigint NOT NULL,
    last_at timestamptz NOT NULL,
    times   integer NOT NULL,
    PRIMARY KEY (user_id, item_id)
);
-- The current cart.
CREATE TABLE user_cart (
    user_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    item_id  bigint NOT NULL,
    quantity integer NOT NULL,
    PRIMARY KEY (user_id, item_id)
);
-- Features used, at most max_features_per_user distinct names per user.
CREATE TABLE user_features (
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    feature text NOT NULL,
    uses    integer NOT NULL,
    PRIMARY KEY (user_id, feature)
);
-- Recent searches (normalised text), at most max_searches per user, never a sensitive one.
CREATE TABLE user_searches (
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    term    text NOT NULL,
    last_at timestamptz NOT NULL,
    times   integer NOT NULL,
    PRIMARY KEY (user_id, term)
);
-- Per category: the analysts' funnel counters and the feed's affinity (view 1, click 2,
-- add_to_cart 3, purchase 5), one row per non-sensitive category the user touched.
ALTER TABLE user_category_stats
    ADD COLUMN clicks integer NOT NULL DEFAULT 0,
    ADD COLUMN affinity bigint NOT NULL DEFAULT 0;

-- The one rollup implementation. Ingestion calls it with the events a batch inserted, seeding
-- with every event of a range of users; the upserts are additive, so applying events in any
-- split of users gives the same rollups (tests/test_rollup_agreement.py). Rows are locked user
-- by user in id order (user_signals first), so concurrent batches for several users never
-- deadlock and batches for one user serialise on its row.
-- Cart: per (user, item), a purchase empties the line; adds and removes after the last purchase
-- are summed onto it, and a line whose quantity is not positive is removed.
CREATE TYPE rollup_event AS (
    user_id bigint, type text, item_id bigint, value bigint, feature text, query text,
    at timestamptz, category text, price_level smallint, sensitive boolean
);

CREATE FUNCTION apply_rollups(
    p_users bigint[], p_types text[], p_items bigint[], p_values bigint[], p_features text[],
    p_queries text[], p_times timestamptz[], p_max_features int, p_max_searches int,
    p_cart_clock timestamptz)
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
BEGIN
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

    INSERT INTO user_spend_days AS t (user_id, day, cents)
    SELECT d.user_id, (d.at AT TIME ZONE 'UTC')::date, sum(d.value)
    FROM unnest(delta) d
    WHERE d.type = 'purchase' AND NOT d.sensitive AND (d.at AT TIME ZONE 'UTC')::date >= today - 400
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (user_id, day) DO UPDATE SET cents = t.cents + excluded.cents;
    DELETE FROM user_spend_days t
    WHERE t.user_id = ANY (ARRAY(SELECT d.user_id FROM unnest(delta) d WHERE d.type = 'purchase'))
      AND t.day < today - 400;

    INSERT INTO user_purchases AS t (user_id, item_id, last_at, times)
    SELECT d.user_id, d.item_id, max(d.at), count(*)
    FROM unnest(delta) d
    WHERE d.type = 'purchase' AND NOT d.sensitive AND d.item_id IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (user_id, item_id) DO UPDATE
        SET last_at = greatest(t.last_at, excluded.last_at), times = t.times + excluded.times;

    -- A purchase empties the line; what was added or removed after the last purchase is summed on.
    DELETE FROM user_cart c
    USING (SELECT DISTINCT d.user_id, d.item_id FROM unnest(delta) d
           WHERE d.type = 'purchase' AND NOT d.sensitive AND d.item_id IS NOT NULL) b
    WHERE c.user_id = b.user_id AND c.item_id = b.item_id;
    INSERT INTO user_cart AS c (user_id, item_id, quantity)
    SELECT d.user_id, d.item_id,
           sum(CASE d.type WHEN 'add_to_cart' THEN coalesce(d.value, 1) ELSE -coalesce(d.value, 1) END)
    FROM unnest(delta) d
    LEFT JOIN (SELECT x.user_id, x.item_id, max(x.at) AS at FROM unnest(delta) x
               WHERE x.type = 'purchase' GROUP BY 1, 2) b
           ON b.user_id = d.user_id AND b.item_id = d.item_id
    WHERE d.type IN ('add_to_cart', 'remove_from_cart') AND NOT d.sensitive AND d.item_id IS NOT NULL
      AND (b.at IS NULL OR d.at > b.at)
    GROUP BY 1, 2 ORDER BY 1, 2
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

    -- Known feature names always count; new ones only while the user holds fewer than
    -- p_max_features (most used first within the batch), so the table stays bounded per user.
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
    ON CONFLICT (user_id, feature) DO UPDATE SET uses = f.uses + excluded.uses;
    UPDATE user_signals s
    SET distinct_features = (SELECT count(*) FROM user_features f WHERE f.user_id = s.user_id)
    WHERE s.user_id = ANY (ARRAY(SELECT d.user_id FROM unnest(delta) d WHERE d.type = 'feature_used'));

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
END $$;

-- Rebuild every rollup from the stored events under the new rules (sensitive items left out),
-- a few thousand users at a time.
TRUNCATE user_signals, user_category_stats;
DO $$
DECLARE
    lo bigint;
    hi bigint;
    top bigint;
BEGIN
    SELECT min(user_id), max(user_id) INTO lo, top FROM events;
    WHILE lo IS NOT NULL AND lo <= top LOOP
        hi := lo + 5000;
        PERFORM apply_rollups(array_agg(e.user_id), array_agg(e.type::text), array_agg(e.item_id),
                              array_agg(e.value), array_agg(e.feature), array_agg(e.query),
                              array_agg(e.occurred_at), 32, 20, NULL)
        FROM events e WHERE e.user_id >= lo AND e.user_id < hi
        HAVING count(*) > 0;
        lo := hi;
    END LOOP;
END $$;
-- Users with no events still have their (empty) rollup row.
INSERT INTO user_signals (user_id) SELECT user_id FROM users ON CONFLICT DO NOTHING;

-- 4. The person's controls -------------------------------------------------------------------
-- What a person asked of the product about its decisions: hide an item / offer / inference,
-- show less of a category or subcategory, stop reminders for an item. Stored per user, applied
-- on the next request, exported, erased with the account. Targets: 'item:<id>', 'offer:<id>',
-- 'category:<name>', 'subcategory:<category>/<name>', 'tag:experience', 'tag:price_tier',
-- 'segment:<id>'.
CREATE TABLE user_controls (
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    kind       control_kind NOT NULL,
    target     text NOT NULL CHECK (target ~ '^[a-z_]+:[^[:cntrl:]]{1,120}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind, target)
);
INSERT INTO user_controls (user_id, kind, target, created_at)
SELECT user_id, 'hide_inference', inference, hidden_at FROM hidden_inferences;
DROP TABLE hidden_inferences;

-- A control changes what may be used about the person: their consent_version moves with it (so
-- snapshot ids and layout ETags change), whoever wrote the row.
CREATE FUNCTION user_controls_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET consent_version = consent_version + 1
    WHERE user_id = coalesce(NEW.user_id, OLD.user_id);
    RETURN NULL;
END $$;
CREATE TRIGGER user_controls_version AFTER INSERT OR UPDATE OR DELETE ON user_controls
    FOR EACH ROW EXECUTE FUNCTION user_controls_bump_version();

-- 5. Offer serving -------------------------------------------------------------------------------
-- Record impressions for the qualifying offers p_offers (in priority order) while their own cap
-- and the user's cap over all offers allow, at most p_max, and audit the write (context $1-$6 as
-- every guarded write). The lock on the user's own row serialises one user's servings across
-- workers and devices; each count below runs after the lock, with a fresh snapshot (plpgsql), so
-- two requests can never both take the last slot. One row of one user is locked: nothing here
-- spans users, as a distributed (Citus) deployment needs.
CREATE FUNCTION serve_offers(
    a_request_id text, a_role text, a_principal text, a_subject bigint, a_purpose text, a_tables text[],
    p_offers bigint[], p_caps int[], p_windows int[], p_channels text[], p_device text,
    p_user_cap int, p_user_window_hours int, p_max int)
RETURNS TABLE (offer_id bigint) LANGUAGE plpgsql AS $$
DECLARE
    served bigint[] := '{}';
    used int;
    i int;
BEGIN
    PERFORM 1 FROM users u WHERE u.user_id = a_subject FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT count(*) INTO used FROM impressions m
    WHERE m.user_id = a_subject AND m.shown_at > now() - make_interval(hours => p_user_window_hours);
    FOR i IN 1 .. coalesce(cardinality(p_offers), 0) LOOP
        EXIT WHEN cardinality(served) >= p_max OR used + cardinality(served) >= p_user_cap;
        IF p_caps[i] IS NULL OR (SELECT count(*) FROM impressions m
                                 WHERE m.user_id = a_subject AND m.offer_id = p_offers[i]
                                   AND m.shown_at > now() - make_interval(hours => p_windows[i])) < p_caps[i]
        THEN
            INSERT INTO impressions (user_id, offer_id, device_id, channel)
            VALUES (a_subject, p_offers[i], p_device, p_channels[i]);
            served := served || p_offers[i];
        END IF;
    END LOOP;
    IF cardinality(served) > 0 THEN
        INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose,
                               table_name, action)
        SELECT a_request_id, a_role, a_principal, a_subject, a_purpose, t, 'write'
        FROM unnest(a_tables) AS t;
    END IF;
    RETURN QUERY SELECT unnest(served);
END $$;

-- The rollups of one user in one row, the narrow tables folded back into JSON (for reading and
-- debugging: the export, tests comparing rollups, an operator's look at one user).
CREATE VIEW user_rollups AS
SELECT s.*,
       coalesce((SELECT jsonb_object_agg(to_char(d.day, 'YYYY-MM-DD'), d.cents) FROM user_spend_days d
                 WHERE d.user_id = s.user_id), '{}') AS spend_by_day,
       coalesce((SELECT jsonb_object_agg(f.feature, f.uses) FROM user_features f
                 WHERE f.user_id = s.user_id), '{}') AS feature_counts,
       coalesce((SELECT jsonb_object_agg(g.category, g.affinity) FROM user_category_stats g
                 WHERE g.user_id = s.user_id AND g.affinity > 0), '{}') AS category_affinity,
       coalesce((SELECT jsonb_object_agg(p.item_id::text,
                                         to_char(p.last_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
                 FROM user_purchases p WHERE p.user_id = s.user_id), '{}') AS purchased_items,
       coalesce((SELECT jsonb_object_agg(c.item_id::text, c.quantity) FROM user_cart c
                 WHERE c.user_id = s.user_id), '{}') AS cart
FROM user_signals s;
