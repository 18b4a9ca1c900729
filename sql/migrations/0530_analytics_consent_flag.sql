-- 0530: the analyst audience without the consents join. Every template read one row per person
-- from users, the analytics.aggregate consents and user_signals; at a million users the join
-- with consents was most of a release's time (merge or hash join over 7 M consent rows). Whether
-- a person granted analytics.aggregate is now a column of their account row, written by triggers
-- on consents in the same transaction as every consent write (insert, update, delete, truncate),
-- so a withdrawal reaches the very next release; dp_audience reads the column instead of
-- joining consents. Tenure and windows stay computed at query time.

-- True exactly when the person's consents row for analytics.aggregate exists and is granted.
ALTER TABLE users ADD COLUMN analytics_consent boolean NOT NULL DEFAULT false;
UPDATE users u SET analytics_consent = true
WHERE EXISTS (SELECT 1 FROM consents c
              WHERE c.user_id = u.user_id AND c.purpose = 'analytics.aggregate' AND c.granted);

-- Recomputed from the consents row itself (one primary-key probe), so the flag follows whatever
-- the statement did to it; an account row that is gone (erasure cascading to consents) is no-op.
CREATE FUNCTION sync_analytics_consent(p_user_id bigint) RETURNS void
LANGUAGE sql AS $$
UPDATE users u SET analytics_consent = x.granted
FROM (SELECT EXISTS (SELECT 1 FROM consents c
                     WHERE c.user_id = p_user_id AND c.purpose = 'analytics.aggregate'
                       AND c.granted) AS granted) x
WHERE u.user_id = p_user_id AND u.analytics_consent IS DISTINCT FROM x.granted
$$;

CREATE FUNCTION consents_sync_analytics_consent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM sync_analytics_consent(OLD.user_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.user_id <> OLD.user_id) THEN
        PERFORM sync_analytics_consent(NEW.user_id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION consents_truncated_analytics_consent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET analytics_consent = false WHERE analytics_consent;
    RETURN NULL;
END $$;

-- Only rows about analytics.aggregate can change the flag.
CREATE TRIGGER consents_analytics_inserted AFTER INSERT ON consents
    FOR EACH ROW WHEN (NEW.purpose = 'analytics.aggregate')
    EXECUTE FUNCTION consents_sync_analytics_consent();
CREATE TRIGGER consents_analytics_updated AFTER UPDATE OF user_id, purpose, granted ON consents
    FOR EACH ROW WHEN (OLD.purpose = 'analytics.aggregate' OR NEW.purpose = 'analytics.aggregate')
    EXECUTE FUNCTION consents_sync_analytics_consent();
CREATE TRIGGER consents_analytics_deleted AFTER DELETE ON consents
    FOR EACH ROW WHEN (OLD.purpose = 'analytics.aggregate')
    EXECUTE FUNCTION consents_sync_analytics_consent();
CREATE TRIGGER consents_analytics_truncated AFTER TRUNCATE ON consents
    FOR EACH STATEMENT EXECUTE FUNCTION consents_truncated_analytics_consent();

-- The index 0030 made for the join is read by nothing else (experiment results probe consents by
-- their key); the flag replaces it.
DROP INDEX consents_purpose_granted;

-- The audience (rules of 0030 and 0071, unchanged) over users.analytics_consent; the purpose
-- parameter is gone: the flag is the analytics.aggregate consent. PARALLEL SAFE (it only reads):
-- the planner decides whether a query may run in parallel before it inlines the function, so an
-- unmarked one kept every template to one process (at 1M users a parallel scan of users took
-- 121 ms against 199 ms alone, on 2 shared cores).
ALTER FUNCTION dp_user_keys(bigint, text, text, text, text, text, text[], int) PARALLEL SAFE;
DROP FUNCTION dp_audience(int, text, text, text, text, text, int, int, int, int, int, float8, float8,
                          text[], text);

CREATE FUNCTION dp_audience(
    p_window_days int, p_country text, p_platform text, p_experience text, p_price_tier text,
    p_category text, p_power_min_sessions int, p_power_min_features int,
    p_power_min_tenure_days int, p_regular_min_sessions int, p_newbie_max_tenure_days int,
    p_luxury_min_mean_level float8, p_budget_max_mean_level float8, p_countries text[])
RETURNS TABLE (user_id bigint, country text, platform text, experience text, price_tier text,
               sessions int, order_value bigint, views int, add_to_carts int, purchases int)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT * FROM (
    SELECT u.user_id,
           CASE WHEN u.country = ANY (p_countries) THEN u.country ELSE 'OTHER' END,
           coalesce(u.platform::text, 'unknown'),
           CASE
               WHEN coalesce(s.sessions, 0) >= p_power_min_sessions
                    AND t.tenure >= p_power_min_tenure_days
                    AND coalesce(s.distinct_features, 0) >= p_power_min_features THEN 'POWER'
               WHEN coalesce(s.sessions, 0) < p_regular_min_sessions
                    OR t.tenure < p_newbie_max_tenure_days THEN 'NEWBIE'
               ELSE 'REGULAR'
           END,
           CASE
               WHEN pl.bought = 0 THEN 'MID'
               WHEN pl.weighted::float8 / pl.bought >= p_luxury_min_mean_level THEN 'LUXURY'
               WHEN pl.weighted::float8 / pl.bought <= p_budget_max_mean_level THEN 'BUDGET'
               ELSE 'MID'
           END,
           coalesce(s.sessions, 0),
           CASE WHEN p_window_days IS NULL THEN coalesce(s.total_spend_cents, 0)
                ELSE coalesce((SELECT sum(d.cents) FROM user_spend_days d
                               WHERE d.user_id = u.user_id AND d.day >= current_date - p_window_days), 0)
           END::bigint,
           coalesce(s.views, 0), coalesce(s.add_to_carts, 0), coalesce(s.purchases, 0)
    FROM users u
    LEFT JOIN user_signals s ON s.user_id = u.user_id
    CROSS JOIN LATERAL (
        SELECT greatest(0, floor(extract(epoch FROM now() - least(u.created_at,
                        coalesce(s.first_seen, u.created_at))) / 86400))::int AS tenure) t
    CROSS JOIN LATERAL (
        SELECT coalesce(s.price_level_counts[1] + s.price_level_counts[2]
                        + s.price_level_counts[3] + s.price_level_counts[4], 0) AS bought,
               coalesce(s.price_level_counts[1] + 2 * s.price_level_counts[2]
                        + 3 * s.price_level_counts[3] + 4 * s.price_level_counts[4], 0) AS weighted) pl
    WHERE u.analytics_consent
      AND (p_window_days IS NULL OR s.last_seen >= now() - make_interval(days => p_window_days))
      AND (p_category IS NULL OR EXISTS (
              SELECT 1 FROM user_category_stats cs
              WHERE cs.user_id = u.user_id AND cs.category = p_category AND cs.purchases > 0))
) a (user_id, country, platform, experience, price_tier, sessions, order_value, views,
     add_to_carts, purchases)
WHERE (p_country IS NULL OR a.country = p_country)
  AND (p_platform IS NULL OR a.platform = p_platform)
  AND (p_experience IS NULL OR a.experience = p_experience)
  AND (p_price_tier IS NULL OR a.price_tier = p_price_tier)
$$;
