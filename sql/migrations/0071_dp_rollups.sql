-- 0071: the analyst audience over the narrow rollups of 0070 (same rules as 0030 and 0060).
-- Per-user work is bounded before anything data-dependent: the experience tag reads one
-- counter (distinct_features, capped at ingestion), the window's spend at most 401 day rows, a
-- FEATURE key set at most max_features_per_user rows, CATEGORY one row per declared category,
-- SEGMENT one row per live segment (privacy/PROOFS.md, "Timing").

CREATE OR REPLACE FUNCTION dp_audience(
    p_window_days int, p_country text, p_platform text, p_experience text, p_price_tier text,
    p_category text, p_power_min_sessions int, p_power_min_features int,
    p_power_min_tenure_days int, p_regular_min_sessions int, p_newbie_max_tenure_days int,
    p_luxury_min_mean_level float8, p_budget_max_mean_level float8, p_countries text[],
    p_purpose text)
RETURNS TABLE (user_id bigint, country text, platform text, experience text, price_tier text,
               sessions int, order_value bigint, views int, add_to_carts int, purchases int)
LANGUAGE sql STABLE AS $$
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
    JOIN consents c ON c.user_id = u.user_id AND c.purpose = p_purpose AND c.granted
    LEFT JOIN user_signals s ON s.user_id = u.user_id
    CROSS JOIN LATERAL (
        SELECT greatest(0, floor(extract(epoch FROM now() - least(u.created_at,
                        coalesce(s.first_seen, u.created_at))) / 86400))::int AS tenure) t
    CROSS JOIN LATERAL (
        SELECT coalesce(s.price_level_counts[1] + s.price_level_counts[2]
                        + s.price_level_counts[3] + s.price_level_counts[4], 0) AS bought,
               coalesce(s.price_level_counts[1] + 2 * s.price_level_counts[2]
                        + 3 * s.price_level_counts[3] + 4 * s.price_level_counts[4], 0) AS weighted) pl
    WHERE (p_window_days IS NULL OR s.last_seen >= now() - make_interval(days => p_window_days))
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


CREATE OR REPLACE FUNCTION dp_user_keys(
    p_user_id bigint, p_dimension text, p_country text, p_platform text, p_experience text,
    p_price_tier text, p_categories text[], p_max_groups int)
RETURNS TABLE (key text)
LANGUAGE sql STABLE AS $$
SELECT p_country WHERE p_dimension = 'COUNTRY'
UNION ALL SELECT p_platform WHERE p_dimension = 'PLATFORM'
UNION ALL SELECT p_experience WHERE p_dimension = 'EXPERIENCE'
UNION ALL SELECT p_price_tier WHERE p_dimension = 'PRICE_TIER'
UNION ALL (SELECT c.category FROM user_category_stats c
           WHERE p_dimension = 'CATEGORY' AND c.user_id = p_user_id AND c.purchases > 0
             AND c.category = ANY (p_categories)
           ORDER BY c.spend_cents DESC, c.category LIMIT p_max_groups)
UNION ALL (SELECT f.feature FROM user_features f
           WHERE p_dimension = 'FEATURE' AND f.user_id = p_user_id AND f.uses > 0
           ORDER BY f.uses DESC, f.feature LIMIT p_max_groups)
UNION ALL (SELECT m.segment_id::text FROM segment_members m
           JOIN segments g ON g.segment_id = m.segment_id AND NOT g.archived
                          AND g.current_version = m.version
           WHERE p_dimension = 'SEGMENT' AND m.user_id = p_user_id
           ORDER BY m.segment_id LIMIT p_max_groups)
$$;
