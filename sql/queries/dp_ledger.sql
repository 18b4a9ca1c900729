-- name: dp_spender
-- A registered spender of this role (analyst or marketer); no row when unknown.
SELECT analyst_id, name, role FROM analysts WHERE analyst_id = $1 AND role = $2

-- name: dp_charge
-- Charge a spender and the dataset's share at once, or nothing (function dp_charge, migration 0130).
SELECT outcome, charge_event, remaining, dataset_remaining
FROM dp_charge(%(spender_id)s, %(role)s, %(dataset)s, %(epsilon)s::numeric, %(delta)s::numeric,
               %(dataset_epsilon)s::numeric, %(dataset_delta)s::numeric, %(request_id)s, %(query_hashes)s::text[],
               %(data_version)s, %(epoch)s)

-- name: dp_refund
-- Give back one query's share of a charge whose release failed (function dp_refund, migration 0130).
SELECT dp_refund(%(charge_event)s, %(query_hash)s, %(epsilon)s::numeric, %(delta)s::numeric,
                 %(dataset_epsilon)s::numeric, %(dataset_delta)s::numeric, %(request_id)s)

-- name: dp_budget
-- One spender's budget for one dataset.
SELECT epsilon_cap, epsilon_spent, delta_cap, delta_spent FROM privacy_budgets
WHERE analyst_id = $1 AND dataset = $2

-- name: dp_set_cap
-- Set a registered spender's cap (never below what is spent) and record it; known is false for an unknown spender.
WITH updated AS (
    UPDATE privacy_budgets SET epsilon_cap = $3::numeric, updated_at = now()
    WHERE analyst_id = $1 AND dataset = $2 AND epsilon_spent <= $3::numeric
    RETURNING epsilon_cap, epsilon_spent, delta_cap, delta_spent
), event AS (
    INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon, request_id, actor)
    SELECT $1, $2, 'cap_set', $3::numeric, $4, $5 FROM updated
)
SELECT EXISTS (SELECT 1 FROM privacy_budgets WHERE analyst_id = $1 AND dataset = $2) AS known,
       u.epsilon_cap, u.epsilon_spent, u.delta_cap, u.delta_spent
FROM (SELECT 1) one LEFT JOIN updated u ON true

-- name: dp_create_spender
-- Register an analyst or marketer with a budget on a dataset and record its caps; no row when the id is taken.
WITH spender AS (
    INSERT INTO analysts (analyst_id, name, role, created_by) VALUES (%(spender_id)s, %(name)s, %(role)s, %(actor)s)
    ON CONFLICT (analyst_id) DO NOTHING
    RETURNING analyst_id, name, role, created_by, created_at
), budget AS (
    INSERT INTO privacy_budgets (analyst_id, dataset, epsilon_cap, delta_cap)
    SELECT analyst_id, %(dataset)s, %(epsilon_cap)s::numeric, %(delta_cap)s::numeric FROM spender
    RETURNING analyst_id, epsilon_cap, epsilon_spent, delta_cap, delta_spent
), event AS (
    INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon, delta, request_id, actor)
    SELECT analyst_id, %(dataset)s, 'cap_set', %(epsilon_cap)s::numeric, %(delta_cap)s::numeric, %(request_id)s, %(actor)s FROM budget
)
SELECT s.analyst_id, s.name, s.role, s.created_by, s.created_at,
       b.epsilon_cap, b.epsilon_spent, b.delta_cap, b.delta_spent
FROM spender s JOIN budget b ON b.analyst_id = s.analyst_id

-- name: dp_spenders
-- Every registered spender with their budget on a dataset (admins' list).
SELECT a.analyst_id, a.name, a.role, a.created_by, a.created_at,
       b.epsilon_cap, b.epsilon_spent, b.delta_cap, b.delta_spent
FROM analysts a LEFT JOIN privacy_budgets b ON b.analyst_id = a.analyst_id AND b.dataset = $1
ORDER BY a.analyst_id

-- name: dp_dataset_budgets
-- The caps per dataset across every spender (the person-level bound).
SELECT dataset, epsilon_cap, epsilon_spent, delta_cap, delta_spent FROM dataset_budgets ORDER BY dataset

-- name: dp_set_dataset_cap
-- Set a dataset's caps (never below what is spent) and record them; known is false for an unknown dataset.
WITH updated AS (
    UPDATE dataset_budgets
    SET epsilon_cap = $2::numeric, delta_cap = coalesce($3::numeric, delta_cap), updated_at = now()
    WHERE dataset = $1 AND epsilon_spent <= $2::numeric AND delta_spent <= coalesce($3::numeric, delta_cap)
    RETURNING dataset, epsilon_cap, epsilon_spent, delta_cap, delta_spent
), event AS (
    INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon, delta, request_id, actor)
    SELECT NULL, dataset, 'dataset_cap_set', epsilon_cap, delta_cap, $4, $5 FROM updated
)
SELECT EXISTS (SELECT 1 FROM dataset_budgets WHERE dataset = $1) AS known,
       u.dataset, u.epsilon_cap, u.epsilon_spent, u.delta_cap, u.delta_spent
FROM (SELECT 1) one LEFT JOIN updated u ON true

-- name: dp_cached_answers
-- The release slot now (data version; epoch = clock / period $3 seconds), with the answers already
-- released in it for these canonical queries and whether spender $4 paid for each (one row with
-- NULL hash when none was released).
SELECT v.version, s.epoch, a.query_hash, a.answer, (r.analyst_id IS NOT NULL) AS received
FROM dataset_versions v
CROSS JOIN LATERAL (
    SELECT floor(extract(epoch FROM statement_timestamp()) / $3::numeric)::bigint AS epoch) s
LEFT JOIN dp_answers a ON a.dataset = v.dataset AND a.data_version = v.version AND a.epoch = s.epoch
                      AND a.query_hash = ANY ($2::text[])
LEFT JOIN dp_answer_receipts r ON r.analyst_id = $4 AND r.dataset = v.dataset
                              AND r.data_version = v.version AND r.epoch = s.epoch
                              AND r.query_hash = a.query_hash
WHERE v.dataset = $1

-- name: dp_store_answer
-- Keep the first released answer of a slot; a concurrent release of the same query gets the stored one back.
WITH ins AS (
    INSERT INTO dp_answers (dataset, query_hash, data_version, epoch, canonical, answer, epsilon, charge_event)
    VALUES (%(dataset)s, %(query_hash)s, %(data_version)s, %(epoch)s, %(canonical)s, %(answer)s, %(epsilon)s::numeric, %(charge_event)s)
    ON CONFLICT (dataset, data_version, epoch, query_hash) DO NOTHING
    RETURNING answer
)
SELECT answer FROM ins
UNION ALL
SELECT answer FROM dp_answers
WHERE dataset = %(dataset)s AND query_hash = %(query_hash)s AND data_version = %(data_version)s AND epoch = %(epoch)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: dp_stored_answer
-- The answer on record for one query in one slot.
SELECT answer FROM dp_answers WHERE dataset = $1 AND query_hash = $2 AND data_version = $3 AND epoch = $4

-- name: dp_ledger_entries
-- One analyst's own ledger on one dataset, newest first ($3 at most).
SELECT event_id, kind, epsilon, delta, cardinality(query_hashes) AS queries, at
FROM privacy_events
WHERE analyst_id = $1 AND dataset = $2
ORDER BY event_id DESC
LIMIT $3
