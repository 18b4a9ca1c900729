-- name: catalog_items
-- The active catalog (public reference data), ordered for deterministic iteration.
SELECT item_id, name, category, subcategory, kind, price_cents, price_level, is_consumable,
       repurchase_days, sensitive_topic, popularity, editorial_rank
FROM items WHERE active ORDER BY item_id

-- name: catalog_relations
-- Complement and substitute pairs between catalog items.
SELECT item_id, related_item_id, relation, strength FROM item_relations ORDER BY item_id, related_item_id

-- name: user_signal_snapshot
-- One user's behavioural rollup, the only input the personalized feed reads about them.
SELECT sessions, first_seen, last_seen, category_affinity, purchased_items, cart, cart_value_cents,
       cart_updated_at, spend_by_day, price_level_counts, feature_counts
FROM user_signals WHERE user_id = $1

-- name: stated_interests
-- What the user told us they are interested in (stated, never derived).
SELECT value FROM profile_fields
WHERE user_id = $1 AND field = 'interests' AND source = 'stated_by_user'

-- name: reminder_channel
-- The user's preferred channel and whether it is subscribed.
SELECT u.preferred_channel, coalesce(c.subscribed, false) AS subscribed
FROM users u
LEFT JOIN user_channels c ON c.user_id = u.user_id AND c.channel = u.preferred_channel
WHERE u.user_id = $1

-- name: recent_decisions
-- The user's own most recent decision records (the explanation log).
SELECT record FROM decisions WHERE user_id = $1 ORDER BY generated_at DESC, decision_id LIMIT $2

-- name: offer_user_account
-- The account facts targeting may use (tenure, country, platform) and the inferences the user hid.
SELECT u.created_at, u.country, u.platform,
       coalesce(array_agg(h.inference) FILTER (WHERE h.inference IS NOT NULL), '{}') AS hidden
FROM users u
LEFT JOIN hidden_inferences h ON h.user_id = u.user_id
WHERE u.user_id = $1
GROUP BY u.user_id

-- name: hide_inference
-- Hide one inference; the user's consent version moves so snapshots and layout ETags change.
WITH hidden AS (
    INSERT INTO hidden_inferences (user_id, inference) VALUES ($1, $2)
    ON CONFLICT (user_id, inference) DO NOTHING
    RETURNING user_id
), unstored AS (
    -- A hidden segment inference is not kept in the membership rollup either (migration 0060).
    DELETE FROM segment_members WHERE user_id = $1 AND 'segment:' || segment_id = $2
)
UPDATE users SET consent_version = consent_version + 1
WHERE user_id = $1 AND EXISTS (SELECT 1 FROM hidden)
RETURNING consent_version
