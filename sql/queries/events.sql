-- name: items_for_events
-- Catalog facts the event validator needs (existence, kind, default price).
SELECT item_id, kind, price_cents
FROM items WHERE item_id = ANY($1::bigint[])

-- name: ingest_events
-- Insert a batch (duplicates skipped), apply the rollups of only the newly inserted rows
-- (apply_rollups, migration 0070: the one implementation seeding uses too), and audit the write,
-- in one statement (one commit per batch); returns the ids that were inserted.
WITH live AS (
    -- KEY SHARE on the accounts: an erasure (which locks the account row FOR UPDATE) either
    -- finishes first, and then its user's events are not inserted, or waits for this batch and
    -- then deletes them. Without it a batch racing an erasure could leave events behind.
    SELECT user_id FROM users WHERE user_id = ANY(%(user_ids)s::bigint[]) FOR KEY SHARE
), input AS (
    SELECT x.*
    FROM unnest(%(user_ids)s::bigint[], %(event_ids)s::uuid[], %(types)s::text[], %(item_ids)s::bigint[],
                %(values)s::bigint[], %(features)s::text[], %(queries)s::text[], %(platforms)s::text[],
                %(occurred_at)s::timestamptz[], %(offer_ids)s::bigint[])
        AS x(user_id, event_id, type, item_id, value, feature, query, platform, occurred_at, offer_id)
    WHERE x.user_id IN (SELECT user_id FROM live)
), ins AS (
    INSERT INTO events (user_id, event_id, type, item_id, value, feature, query, platform, occurred_at, offer_id)
    SELECT user_id, event_id, type, item_id, value, feature, query, platform, occurred_at, offer_id
    FROM input ORDER BY user_id, event_id
    ON CONFLICT DO NOTHING
    RETURNING user_id, event_id, type::text AS type, item_id, value, feature, query, occurred_at
), rollups AS (
    SELECT apply_rollups(array_agg(user_id ORDER BY user_id), array_agg(type ORDER BY user_id),
                         array_agg(item_id ORDER BY user_id), array_agg(value ORDER BY user_id),
                         array_agg(feature ORDER BY user_id), array_agg(query ORDER BY user_id),
                         array_agg(occurred_at ORDER BY user_id), %(max_features)s, %(max_searches)s,
                         now(), %(max_purchases)s, %(max_cart_lines)s) AS done
    FROM ins
    HAVING count(*) > 0
), @audit_batch_write(ins)
SELECT ins.user_id, ins.event_id FROM ins, (SELECT count(*) FROM rollups) r
