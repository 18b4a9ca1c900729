-- Test-only functions for the privacy tests, created in each test database.

-- A user with a row in every personal table: events, rollups, decisions, impressions, ...
CREATE FUNCTION seed_history(uid bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO items (item_id, sku, name, category, subcategory, kind, price_cents, price_level)
    VALUES (500, 'sku-500', 'Coat', 'apparel', 'coats', 'product', 9900, 3) ON CONFLICT DO NOTHING;
    INSERT INTO offers (offer_id, name, kind, created_by)
    VALUES (900, 'Welcome', 'welcome', 'm') ON CONFLICT DO NOTHING;
    INSERT INTO events (user_id, event_id, type, item_id, occurred_at)
    SELECT uid, gen_random_uuid(), t, 500, now() - i * interval '1 hour'
    FROM unnest(ARRAY['view', 'view', 'click', 'purchase']) WITH ORDINALITY AS x(t, i);
    INSERT INTO user_signals (user_id, sessions) VALUES (uid, 3);
    INSERT INTO user_category_stats (user_id, category, views, purchases, affinity) VALUES (uid, 'apparel', 2, 1, 7);
    INSERT INTO decisions (user_id, surface, subject_kind, subject_id, mode, record, consent_snapshot_id)
    VALUES (uid, 'home', 'item', '500', 'PERSONALIZED', '{"summary": "Because you viewed apparel"}', 'cs');
    INSERT INTO impressions (user_id, offer_id, channel) VALUES (uid, 900, 'in_app'), (uid, 900, 'in_app');
    INSERT INTO user_controls (user_id, kind, target) VALUES (uid, 'hide_inference', 'tag:LUXURY');
    INSERT INTO user_channels (user_id, channel, subscribed) VALUES (uid, 'email', true);
    INSERT INTO profile_fields (user_id, field, value, data_category, purpose, stage, source)
    VALUES (uid, 'name', 'Ana', 'user.name', 'essential.service', 'signup', 'stated_by_user');
    INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose, table_name)
    VALUES ('r-seed', 'user', uid::text, uid, 'personalize.content', 'events');
$$;

-- Rows of `t` whose column `c` names the user; identifiers quoted by PostgreSQL (format %I).
CREATE FUNCTION erasure_row_count(t text, c text, uid bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I WHERE %I = $1', t, c) INTO n USING uid;
    RETURN n;
END $$;
