-- name: catalog_items
-- The active catalog (public reference data), ordered for deterministic iteration.
SELECT item_id, name, category, subcategory, kind, price_cents, price_level, is_consumable,
       repurchase_days, sensitive_topic, popularity, editorial_rank
FROM items WHERE active ORDER BY item_id

-- name: catalog_relations
-- Complement and substitute pairs between catalog items.
SELECT item_id, related_item_id, relation, strength FROM item_relations ORDER BY item_id, related_item_id

-- name: recent_decisions
-- The user's own most recent decision records (the explanation log).
SELECT record FROM decisions WHERE user_id = $1 ORDER BY generated_at DESC, decision_id LIMIT $2
