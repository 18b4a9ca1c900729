-- Analyst templates (DESIGN §6). Every template reads dp_audience with the same named audience
-- parameters (window, filters, tag thresholds, declared countries; privacy/dp/templates.py
-- `audience_params`), then its own named parameters.
-- Each template's sensitivity is stated in privacy/dp/templates.py next to the code using it.

-- name: dp_distinct_users
-- Users in the audience (one row per user: each user adds 1).
SELECT count(*) AS users FROM dp_audience(%(window_days)s, %(country)s, %(platform)s, %(experience)s, %(price_tier)s, %(category)s,
                 %(power_min_sessions)s, %(power_min_features)s, %(power_min_tenure_days)s,
                 %(regular_min_sessions)s, %(newbie_max_tenure_days)s, %(luxury_min_mean_level)s,
                 %(budget_max_mean_level)s, %(countries)s) a

-- name: dp_users_by_attributes
-- Users per key of one or two single-valued dimensions (dimension1, dimension2 or NULL): one pass, no per-user lateral.
SELECT CASE %(dimension1)s::text WHEN 'COUNTRY' THEN a.country WHEN 'PLATFORM' THEN a.platform
                      WHEN 'EXPERIENCE' THEN a.experience WHEN 'PRICE_TIER' THEN a.price_tier END AS key1,
       CASE %(dimension2)s::text WHEN 'COUNTRY' THEN a.country WHEN 'PLATFORM' THEN a.platform
                      WHEN 'EXPERIENCE' THEN a.experience WHEN 'PRICE_TIER' THEN a.price_tier END AS key2,
       count(*) AS users
FROM dp_audience(%(window_days)s, %(country)s, %(platform)s, %(experience)s, %(price_tier)s, %(category)s,
                 %(power_min_sessions)s, %(power_min_features)s, %(power_min_tenure_days)s,
                 %(regular_min_sessions)s, %(newbie_max_tenure_days)s, %(luxury_min_mean_level)s,
                 %(budget_max_mean_level)s, %(countries)s) a
GROUP BY 1, 2

-- name: dp_users_by
-- Users per key of one or two dimensions (dimension2 NULL: one); categories: the declared ones; keys_per_user: the cap per user.
SELECT k1.key AS key1, k2.key AS key2, count(*) AS users
FROM dp_audience(%(window_days)s, %(country)s, %(platform)s, %(experience)s, %(price_tier)s, %(category)s,
                 %(power_min_sessions)s, %(power_min_features)s, %(power_min_tenure_days)s,
                 %(regular_min_sessions)s, %(newbie_max_tenure_days)s, %(luxury_min_mean_level)s,
                 %(budget_max_mean_level)s, %(countries)s) a
CROSS JOIN LATERAL dp_user_keys(a.user_id, %(dimension1)s, a.country, a.platform, a.experience, a.price_tier, %(categories)s, %(keys_per_user)s) k1
LEFT JOIN LATERAL dp_user_keys(a.user_id, %(dimension2)s, a.country, a.platform, a.experience, a.price_tier, %(categories)s, %(keys_per_user)s) k2 ON true
WHERE (%(dimension2)s::text IS NULL OR k2.key IS NOT NULL)
GROUP BY 1, 2

-- name: dp_order_value
-- Clamped order value (clamped at order_value_max_cents) summed over buyers in the window, and the number of buyers.
SELECT coalesce(sum(least(a.order_value, %(order_value_max_cents)s::bigint)), 0)::bigint AS total, count(*) AS buyers
FROM dp_audience(%(window_days)s, %(country)s, %(platform)s, %(experience)s, %(price_tier)s, %(category)s,
                 %(power_min_sessions)s, %(power_min_features)s, %(power_min_tenure_days)s,
                 %(regular_min_sessions)s, %(newbie_max_tenure_days)s, %(luxury_min_mean_level)s,
                 %(budget_max_mean_level)s, %(countries)s) a
WHERE a.order_value > 0

-- name: dp_histogram
-- Users per bin: metric ORDER_VALUE over buyers or SESSIONS over everyone, edges = bin lower edges, order value clamped.
SELECT width_bucket(CASE WHEN %(metric)s::text = 'ORDER_VALUE' THEN least(a.order_value, %(order_value_max_cents)s::bigint)
                         ELSE a.sessions::bigint END, %(edges)s::bigint[]) AS bin,
       count(*) AS users
FROM dp_audience(%(window_days)s, %(country)s, %(platform)s, %(experience)s, %(price_tier)s, %(category)s,
                 %(power_min_sessions)s, %(power_min_features)s, %(power_min_tenure_days)s,
                 %(regular_min_sessions)s, %(newbie_max_tenure_days)s, %(luxury_min_mean_level)s,
                 %(budget_max_mean_level)s, %(countries)s) a
WHERE (%(metric)s::text <> 'ORDER_VALUE' OR a.order_value > 0)
GROUP BY 1

-- name: dp_funnel
-- Users who viewed / added to cart / purchased, per key of one single-valued dimension (dimension).
SELECT CASE %(dimension)s::text WHEN 'COUNTRY' THEN a.country WHEN 'PLATFORM' THEN a.platform
                       WHEN 'EXPERIENCE' THEN a.experience WHEN 'PRICE_TIER' THEN a.price_tier END AS key,
       count(*) FILTER (WHERE a.views > 0) AS viewed,
       count(*) FILTER (WHERE a.add_to_carts > 0) AS carted,
       count(*) FILTER (WHERE a.purchases > 0) AS purchased
FROM dp_audience(%(window_days)s, %(country)s, %(platform)s, %(experience)s, %(price_tier)s, %(category)s,
                 %(power_min_sessions)s, %(power_min_features)s, %(power_min_tenure_days)s,
                 %(regular_min_sessions)s, %(newbie_max_tenure_days)s, %(luxury_min_mean_level)s,
                 %(budget_max_mean_level)s, %(countries)s) a
GROUP BY 1

-- name: dp_funnel_by_category
-- The funnel per declared category (categories), over at most keys_per_user categories per user (most viewed first).
SELECT cs.category AS key,
       count(*) FILTER (WHERE cs.views > 0) AS viewed,
       count(*) FILTER (WHERE cs.add_to_carts > 0) AS carted,
       count(*) FILTER (WHERE cs.purchases > 0) AS purchased
FROM dp_audience(%(window_days)s, %(country)s, %(platform)s, %(experience)s, %(price_tier)s, %(category)s,
                 %(power_min_sessions)s, %(power_min_features)s, %(power_min_tenure_days)s,
                 %(regular_min_sessions)s, %(newbie_max_tenure_days)s, %(luxury_min_mean_level)s,
                 %(budget_max_mean_level)s, %(countries)s) a
CROSS JOIN LATERAL (
    SELECT c.category, c.views, c.add_to_carts, c.purchases FROM user_category_stats c
    WHERE c.user_id = a.user_id AND c.category = ANY (%(categories)s::text[])
      AND (c.views > 0 OR c.add_to_carts > 0 OR c.purchases > 0)
    ORDER BY c.views DESC, c.category LIMIT %(keys_per_user)s) cs
GROUP BY 1
