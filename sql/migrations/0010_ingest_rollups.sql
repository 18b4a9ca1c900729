-- 0010: helpers for event ingestion's rollup update, and the layout-inputs counter of the ETag.
-- The helpers are plpgsql, not SQL functions: their aggregate bodies cannot be inlined, and
-- plpgsql keeps their plans for the session instead of planning them on every batch.

-- Bumped by ingestion whenever a batch holds an event that can change the layout tags or the
-- order of most-used features (session_start, feature_used, purchase, booking). The layout ETag
-- reads this counter instead of the signals themselves, so the ETag query touches no activity data.
ALTER TABLE user_signals ADD COLUMN layout_inputs_version bigint NOT NULL DEFAULT 0;

-- Per-key sum of two {"key": number} objects; keys whose total is not positive are dropped
-- (a cart line removed more often than added disappears).
CREATE FUNCTION jsonb_add_counts(base jsonb, delta jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (
        SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
        FROM (
            SELECT key, sum(value::numeric) AS total
            FROM (SELECT * FROM jsonb_each_text(base) UNION ALL SELECT * FROM jsonb_each_text(delta)) AS kv
            GROUP BY key
        ) AS t
        WHERE total > 0
    );
END
$$;

-- The {"YYYY-MM-DD": n} entries on or after `since`.
CREATE FUNCTION jsonb_keep_days(days jsonb, since date) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (
        SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb)
        FROM jsonb_each(days)
        WHERE key >= to_char(since, 'YYYY-MM-DD')
    );
END
$$;

-- Per-key latest of two {"key": "ISO-8601 UTC"} objects, written as 2026-11-01T10:00:00Z.
CREATE FUNCTION jsonb_latest_times(base jsonb, delta jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (
        SELECT coalesce(
            jsonb_object_agg(key, to_char(latest AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
            '{}'::jsonb)
        FROM (
            SELECT key, max(value::timestamptz) AS latest
            FROM (SELECT * FROM jsonb_each_text(base) UNION ALL SELECT * FROM jsonb_each_text(delta)) AS kv
            GROUP BY key
        ) AS t
    );
END
$$;

-- Value of a {"item_id": quantity} cart at current catalog prices.
CREATE FUNCTION cart_value_cents(cart jsonb) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (
        SELECT coalesce(sum(c.value::bigint * i.price_cents), 0)::bigint
        FROM jsonb_each_text(cart) AS c
        JOIN items i ON i.item_id = c.key::bigint
    );
END
$$;
