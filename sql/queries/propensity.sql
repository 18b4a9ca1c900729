-- Purchase-propensity models (resolvers/model/propensity.py, jobs/propensity.py, migration 0430).

-- name: active_model
-- The version of model $1 that serves, with what scoring needs (reference data: coefficients only).
SELECT m.name, m.version, m.spec_version, m.features, m.coefficients, m.intercept, m.horizon_days, m.card
FROM model_active a JOIN models m ON m.name = a.name AND m.version = a.version
WHERE a.name = $1

-- name: propensity_training_rows
-- Users $1 (the caller checked each one's consent to profiling) as their rollups stood at the
-- cut-off $2: the same counters, purchases, spend per day, cart (adds and removes after the
-- item's last purchase, at current prices) and category affinity (view 1, click 2, add_to_cart
-- 3, purchase 5) that apply_rollups keeps, over non-sensitive items only; and the label: a
-- purchase of a non-sensitive item in [$2, $2 + $3 days). Users who joined after the cut-off
-- have no row.
WITH ev AS MATERIALIZED (
    SELECT e.user_id, e.type, e.item_id, e.value, e.occurred_at AS at, i.category,
           coalesce(i.sensitive, false) AS sensitive
    FROM events e LEFT JOIN items i ON i.item_id = e.item_id
    WHERE e.user_id = ANY ($1::bigint[]) AND e.occurred_at < $2::timestamptz + make_interval(days => $3)
), before AS (
    SELECT * FROM ev WHERE at < $2::timestamptz
), sig AS (
    SELECT user_id, count(*) FILTER (WHERE type = 'session_start') AS sessions,
           min(at) AS first_seen, max(at) AS last_seen
    FROM before GROUP BY user_id
), spend AS (
    SELECT user_id, array_agg(day ORDER BY day) AS days, array_agg(cents ORDER BY day) AS cents
    FROM (SELECT user_id, (at AT TIME ZONE 'UTC')::date AS day, sum(value) AS cents FROM before
          WHERE type = 'purchase' AND NOT sensitive GROUP BY 1, 2) d
    GROUP BY user_id
), last_buy AS (
    SELECT user_id, item_id, max(at) AS at FROM before
    WHERE type = 'purchase' AND item_id IS NOT NULL GROUP BY 1, 2
), bought AS (
    SELECT b.user_id, array_agg(b.item_id ORDER BY b.item_id) AS items, array_agg(b.at ORDER BY b.item_id) AS ats
    FROM last_buy b JOIN items i ON i.item_id = b.item_id AND NOT i.sensitive
    GROUP BY b.user_id
), cart AS (
    SELECT c.user_id, sum(c.q::bigint * i.price_cents) AS value
    FROM (SELECT d.user_id, d.item_id,
                 sum(CASE d.type WHEN 'add_to_cart' THEN coalesce(d.value, 1) ELSE -coalesce(d.value, 1) END) AS q
          FROM before d LEFT JOIN last_buy b ON b.user_id = d.user_id AND b.item_id = d.item_id
          WHERE d.type IN ('add_to_cart', 'remove_from_cart') AND NOT d.sensitive AND d.item_id IS NOT NULL
            AND (b.at IS NULL OR d.at > b.at)
          GROUP BY 1, 2) c
    JOIN items i ON i.item_id = c.item_id
    WHERE c.q > 0
    GROUP BY c.user_id
), aff AS (
    SELECT user_id, array_agg(category ORDER BY category) AS cats, array_agg(w ORDER BY category) AS weights
    FROM (SELECT user_id, category,
                 sum(CASE type WHEN 'view' THEN 1 WHEN 'click' THEN 2 WHEN 'add_to_cart' THEN 3 ELSE 5 END) AS w
          FROM before
          WHERE category IS NOT NULL AND NOT sensitive AND type IN ('view', 'click', 'add_to_cart', 'purchase')
          GROUP BY 1, 2) a
    GROUP BY user_id
), label AS (
    SELECT DISTINCT user_id FROM ev WHERE at >= $2::timestamptz AND type = 'purchase' AND NOT sensitive
)
SELECT u.user_id, coalesce(s.sessions, 0) AS sessions, s.first_seen, s.last_seen,
       least(u.created_at, s.first_seen) AS member_since,
       sp.days AS spend_days, sp.cents AS spend_cents, b.items AS bought_items, b.ats AS bought_at,
       coalesce(c.value, 0) AS cart_value_cents, a.cats AS affinity_categories, a.weights AS affinity_weights,
       l.user_id IS NOT NULL AS label
FROM users u
LEFT JOIN sig s ON s.user_id = u.user_id
LEFT JOIN spend sp ON sp.user_id = u.user_id
LEFT JOIN bought b ON b.user_id = u.user_id
LEFT JOIN cart c ON c.user_id = u.user_id
LEFT JOIN aff a ON a.user_id = u.user_id
LEFT JOIN label l ON l.user_id = u.user_id
WHERE u.user_id = ANY ($1::bigint[]) AND u.created_at < $2::timestamptz
ORDER BY u.user_id

-- name: model_budget_left
-- What the trainer $1 may still spend on dataset $2: its own cap and the dataset's, whichever is smaller.
SELECT least(b.epsilon_cap - b.epsilon_spent, d.epsilon_cap - d.epsilon_spent) AS epsilon_left
FROM privacy_budgets b JOIN dataset_budgets d ON d.dataset = b.dataset
WHERE b.analyst_id = $1 AND b.dataset = $2

-- name: store_model
-- Store the next version of a model with its card (in the training's transaction, after its charge).
INSERT INTO models AS m (name, version, spec_version, features, coefficients, intercept, epsilon, delta,
                         cutoff, horizon_days, noisy_training_size, charge_event, card, created_by)
SELECT %(name)s, coalesce(max(x.version), 0) + 1, %(spec_version)s, %(features)s::text[],
       %(coefficients)s::float8[], %(intercept)s, %(epsilon)s::numeric, %(delta)s::numeric, %(cutoff)s,
       %(horizon_days)s, %(noisy_training_size)s, %(charge_event)s, %(card)s::jsonb, %(created_by)s
FROM (SELECT version FROM models WHERE name = %(name)s FOR UPDATE) x
RETURNING m.version, m.created_at

-- name: activate_model
-- Make version $2 of model $1 the one that serves (NOTIFY reaches every worker) and record who did; the previous version.
WITH prev AS (
    SELECT version FROM model_active WHERE name = $1
), act AS (
    INSERT INTO model_active (name, version, activated_by) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO UPDATE SET version = excluded.version, activated_by = excluded.activated_by,
                                     activated_at = now()
    RETURNING version
), hist AS (
    INSERT INTO model_activations (name, version, previous, actor)
    SELECT $1, $2, (SELECT version FROM prev), $3 FROM act
)
SELECT (SELECT version FROM prev) AS previous, (SELECT version FROM act) AS version

-- name: list_models
-- The versions of model $1, newest first, with their cards and which one serves.
SELECT m.name, m.version, m.spec_version, m.features, m.coefficients, m.intercept, m.epsilon, m.delta,
       m.cutoff, m.horizon_days, m.noisy_training_size, m.charge_event, m.card, m.created_by, m.created_at,
       coalesce(a.version = m.version, false) AS active
FROM models m LEFT JOIN model_active a ON a.name = m.name
WHERE m.name = $1
ORDER BY m.version DESC

-- name: model_version
-- One stored version of model $1 (its card and coefficients).
SELECT m.name, m.version, m.spec_version, m.features, m.coefficients, m.intercept, m.horizon_days, m.card,
       m.cutoff
FROM models m WHERE m.name = $1 AND m.version = $2
