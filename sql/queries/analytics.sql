-- Analyst templates (DESIGN §6). Parameters $1..$15 are always the audience of dp_audience
-- (window, filters, tag thresholds, declared countries, purpose); template parameters follow.
-- Each template's sensitivity is stated in privacy/dp/templates.py next to the code using it.

-- name: dp_distinct_users
-- Users in the audience (one row per user: each user adds 1).
SELECT count(*) AS users FROM dp_audience($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) a

-- name: dp_users_by_attributes
-- Users per key of one or two single-valued dimensions ($16, $17 or NULL): one pass, no per-user lateral.
SELECT CASE $16::text WHEN 'COUNTRY' THEN a.country WHEN 'PLATFORM' THEN a.platform
                      WHEN 'EXPERIENCE' THEN a.experience WHEN 'PRICE_TIER' THEN a.price_tier END AS key1,
       CASE $17::text WHEN 'COUNTRY' THEN a.country WHEN 'PLATFORM' THEN a.platform
                      WHEN 'EXPERIENCE' THEN a.experience WHEN 'PRICE_TIER' THEN a.price_tier END AS key2,
       count(*) AS users
FROM dp_audience($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) a
GROUP BY 1, 2

-- name: dp_users_by
-- Users per key of one or two dimensions; $16/$17 dimensions ($17 NULL: one), $18 declared categories, $19 keys per user.
SELECT k1.key AS key1, k2.key AS key2, count(*) AS users
FROM dp_audience($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) a
CROSS JOIN LATERAL dp_user_keys(a.user_id, $16, a.country, a.platform, a.experience, a.price_tier, $18, $19) k1
LEFT JOIN LATERAL dp_user_keys(a.user_id, $17, a.country, a.platform, a.experience, a.price_tier, $18, $19) k2 ON true
WHERE ($17::text IS NULL OR k2.key IS NOT NULL)
GROUP BY 1, 2

-- name: dp_order_value
-- Clamped order value ($16 = upper clamp, cents) summed over buyers in the window, and the number of buyers.
SELECT coalesce(sum(least(a.order_value, $16::bigint)), 0)::bigint AS total, count(*) AS buyers
FROM dp_audience($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) a
WHERE a.order_value > 0

-- name: dp_histogram
-- Users per bin ($16 metric ORDER_VALUE over buyers or SESSIONS over everyone, $17 bin lower edges, $18 order value clamp).
SELECT width_bucket(CASE WHEN $16::text = 'ORDER_VALUE' THEN least(a.order_value, $18::bigint)
                         ELSE a.sessions::bigint END, $17::bigint[]) AS bin,
       count(*) AS users
FROM dp_audience($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) a
WHERE ($16::text <> 'ORDER_VALUE' OR a.order_value > 0)
GROUP BY 1

-- name: dp_funnel
-- Users who viewed / added to cart / purchased, per key of one single-valued dimension ($16).
SELECT CASE $16::text WHEN 'COUNTRY' THEN a.country WHEN 'PLATFORM' THEN a.platform
                       WHEN 'EXPERIENCE' THEN a.experience WHEN 'PRICE_TIER' THEN a.price_tier END AS key,
       count(*) FILTER (WHERE a.views > 0) AS viewed,
       count(*) FILTER (WHERE a.add_to_carts > 0) AS carted,
       count(*) FILTER (WHERE a.purchases > 0) AS purchased
FROM dp_audience($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) a
GROUP BY 1

-- name: dp_funnel_by_category
-- The funnel per declared category ($16), over at most $17 categories per user (most viewed first).
SELECT cs.category AS key,
       count(*) FILTER (WHERE cs.views > 0) AS viewed,
       count(*) FILTER (WHERE cs.add_to_carts > 0) AS carted,
       count(*) FILTER (WHERE cs.purchases > 0) AS purchased
FROM dp_audience($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) a
CROSS JOIN LATERAL (
    SELECT c.category, c.views, c.add_to_carts, c.purchases FROM user_category_stats c
    WHERE c.user_id = a.user_id AND c.category = ANY ($16::text[])
      AND (c.views > 0 OR c.add_to_carts > 0 OR c.purchases > 0)
    ORDER BY c.views DESC, c.category LIMIT $17) cs
GROUP BY 1
