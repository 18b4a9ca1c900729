-- Fragments: what several statements in sql/queries/ must do alike, written once (sql/queries.py
-- expands `@name(arg)` in a statement with `{x}` below replaced by `arg`).

-- fragment: audit_write
-- The audit rows of a guarded write about the request's own user (privacy.guard.Guard.write
-- binds the a_* parameters): a CTE writing one row per table in a_tables, only when the CTE
-- {x} wrote something (a statement that changed nothing leaves no audit row).
audit AS (
    INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose,
                           table_name, action)
    SELECT %(a_request_id)s, %(a_role)s, %(a_principal)s, %(a_subject)s, %(a_purpose)s, t, 'write'
    FROM unnest(%(a_tables)s::text[]) AS t
    WHERE EXISTS (SELECT 1 FROM {x})
)

-- fragment: audit_batch_write
-- The audit rows of a write about every user in the `user_id` column of the CTE {x}
-- (privacy.snapshots.BatchGuard.write_audited): one row per user and table, in id order.
audit AS (
    INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose,
                           table_name, action)
    SELECT %(a_request_id)s, %(a_role)s, %(a_principal)s, u.user_id, %(a_purpose)s, t, 'write'
    FROM (SELECT DISTINCT user_id FROM {x}) u
    CROSS JOIN unnest(%(a_tables)s::text[]) AS t
    ORDER BY u.user_id
    RETURNING 1
)

-- fragment: user_controls
-- A join giving k.control_kinds, k.control_targets and k.control_created ('{}' for none) for
-- the account row {x}, in (kind, target) order (resolvers/model/user.py reads them).
LEFT JOIN LATERAL (
    SELECT coalesce(array_agg(kind::text ORDER BY kind, target), '{}') AS control_kinds,
           coalesce(array_agg(target ORDER BY kind, target), '{}') AS control_targets,
           coalesce(array_agg(created_at ORDER BY kind, target), '{}') AS control_created
    FROM user_controls WHERE user_id = {x}.user_id
) k ON true

-- fragment: user_activity
-- Select-list columns: the rollups of the person whose user_signals row is {x} (NULL columns
-- when it is absent) and whose account row is u; sensitive items were left out when they were
-- computed (apply_rollups).
{x}.sessions, {x}.first_seen, {x}.last_seen, {x}.total_spend_cents,
       {x}.price_level_counts, {x}.cart_updated_at,
       least(u.created_at, {x}.first_seen) AS member_since,
       (SELECT array_agg(d.day ORDER BY d.day) FROM user_spend_days d WHERE d.user_id = {x}.user_id) AS spend_days,
       (SELECT array_agg(d.cents ORDER BY d.day) FROM user_spend_days d WHERE d.user_id = {x}.user_id) AS spend_cents,
       (SELECT array_agg(p.item_id ORDER BY p.item_id) FROM user_purchases p
        WHERE p.user_id = {x}.user_id) AS bought_items,
       (SELECT array_agg(p.last_at ORDER BY p.item_id) FROM user_purchases p
        WHERE p.user_id = {x}.user_id) AS bought_at,
       (SELECT array_agg(c.item_id ORDER BY c.item_id) FROM user_cart c WHERE c.user_id = {x}.user_id) AS cart_items,
       (SELECT array_agg(c.quantity ORDER BY c.item_id) FROM user_cart c
        WHERE c.user_id = {x}.user_id) AS cart_quantities,
       {x}.cart_value_cents,
       (SELECT array_agg(g.category ORDER BY g.category) FROM user_category_stats g
        WHERE g.user_id = {x}.user_id AND g.affinity > 0) AS affinity_categories,
       (SELECT array_agg(g.affinity ORDER BY g.category) FROM user_category_stats g
        WHERE g.user_id = {x}.user_id AND g.affinity > 0) AS affinity_weights,
       (SELECT array_agg(f.feature ORDER BY f.feature) FROM user_features f WHERE f.user_id = {x}.user_id) AS features,
       (SELECT array_agg(f.uses ORDER BY f.feature) FROM user_features f WHERE f.user_id = {x}.user_id) AS feature_uses,
       (SELECT array_agg(q.term ORDER BY q.last_at DESC, q.term) FROM user_searches q
        WHERE q.user_id = {x}.user_id) AS search_terms,
       (SELECT array_agg(q.last_at ORDER BY q.last_at DESC, q.term) FROM user_searches q
        WHERE q.user_id = {x}.user_id) AS search_at
