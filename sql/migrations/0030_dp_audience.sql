-- 0030: the analyst audience as inlinable SQL functions (DESIGN §6).
-- Every analyst template reads users through dp_audience, so the consent rule (only users who
-- granted analytics.aggregate), the time window and the declared dimensions are written once.
-- Both functions are LANGUAGE sql STABLE with a single SELECT: the planner inlines them, so a
-- template costs the same as if the body were pasted into it.

-- Whose consent the analyst aggregates depend on: one index probe per user.
CREATE INDEX consents_purpose_granted ON consents (purpose, user_id) WHERE granted;

-- One row per user who granted p_purpose, after the filters; one value per declared dimension.
-- Tags follow resolvers.config.TagThresholds (same rules as resolvers/tags.py):
--   experience: POWER when sessions >= power_min_sessions AND distinct features used (count > 0)
--   >= power_min_features AND tenure >= power_min_tenure_days; NEWBIE when sessions <
--   regular_min_sessions OR tenure < newbie_max_tenure_days; REGULAR otherwise. Tenure = whole
--   days since the earlier of account creation and first event seen.
--   price tier: mean price level of purchases + bookings: LUXURY >= luxury_min_mean_level,
--   BUDGET <= budget_max_mean_level, MID otherwise or when nothing was bought.
-- Windows (p_window_days, NULL = all time): a user is in the window when last_seen falls in it;
-- order_value is the spend inside the window (spend_by_day keeps 400 days); sessions and funnel
-- counters are lifetime totals (the rollups keep no per-day history of them).
CREATE FUNCTION dp_audience(
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
           coalesce(u.platform, 'unknown'),
           CASE
               WHEN coalesce(s.sessions, 0) >= p_power_min_sessions
                    AND t.tenure >= p_power_min_tenure_days
                    AND (SELECT count(*) FROM jsonb_each_text(s.feature_counts) f
                         WHERE f.value::numeric > 0) >= p_power_min_features THEN 'POWER'
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
                ELSE coalesce((SELECT sum(d.value::bigint) FROM jsonb_each_text(s.spend_by_day) d
                               WHERE d.key >= to_char(current_date - p_window_days, 'YYYY-MM-DD')), 0)
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

-- The keys one user holds in one dimension, at most p_max_groups of them: the contribution
-- bound that makes a group-by's L1 sensitivity p_max_groups (1 for single-valued dimensions).
-- CATEGORY: declared categories bought (largest spend first); FEATURE (not public): features
-- used (most used first); NULL dimension: no keys.
CREATE FUNCTION dp_user_keys(
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
UNION ALL (SELECT f.key FROM user_signals s CROSS JOIN LATERAL jsonb_each_text(s.feature_counts) f
           WHERE p_dimension = 'FEATURE' AND s.user_id = p_user_id AND f.value::numeric > 0
           ORDER BY f.value::numeric DESC, f.key LIMIT p_max_groups)
$$;
