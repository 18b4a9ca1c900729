-- name: dp_ensure_budget
-- Open an analyst's budget for a dataset with the default caps (no-op when it exists).
INSERT INTO privacy_budgets (analyst_id, dataset, epsilon_cap, delta_cap)
VALUES ($1, $2, $3, $4)
ON CONFLICT (analyst_id, dataset) DO NOTHING

-- name: dp_charge
-- All-or-nothing: spend only if both caps still hold, and append the ledger event in the same
-- statement. Refused: charged is false, with the remaining epsilon (NULL when no budget row yet).
WITH charged AS (
    UPDATE privacy_budgets
    SET epsilon_spent = epsilon_spent + $3::numeric, delta_spent = delta_spent + $4::numeric,
        updated_at = now()
    WHERE analyst_id = $1 AND dataset = $2
      AND epsilon_spent + $3::numeric <= epsilon_cap AND delta_spent + $4::numeric <= delta_cap
    RETURNING epsilon_cap - epsilon_spent AS remaining
), event AS (
    INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon, delta, request_id, query_hashes)
    SELECT $1, $2, 'charge', $3::numeric, $4::numeric, $5, $6::text[] FROM charged
)
SELECT EXISTS (SELECT 1 FROM charged) AS charged,
       coalesce((SELECT remaining FROM charged),
                (SELECT epsilon_cap - epsilon_spent FROM privacy_budgets
                 WHERE analyst_id = $1 AND dataset = $2)) AS remaining

-- name: dp_budget
-- One analyst's budget for one dataset.
SELECT epsilon_cap, epsilon_spent, delta_cap, delta_spent FROM privacy_budgets
WHERE analyst_id = $1 AND dataset = $2

-- name: dp_set_cap
-- Set a cap (never below what is already spent) and record it; returns nothing when refused.
WITH upserted AS (
    INSERT INTO privacy_budgets AS b (analyst_id, dataset, epsilon_cap, delta_cap)
    VALUES ($1, $2, $3::numeric, $4::numeric)
    ON CONFLICT (analyst_id, dataset) DO UPDATE SET epsilon_cap = EXCLUDED.epsilon_cap, updated_at = now()
    WHERE b.epsilon_spent <= EXCLUDED.epsilon_cap
    RETURNING epsilon_cap, epsilon_spent, delta_cap, delta_spent
), event AS (
    INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon, request_id)
    SELECT $1, $2, 'cap_set', $3::numeric, $5 FROM upserted
)
SELECT epsilon_cap, epsilon_spent, delta_cap, delta_spent FROM upserted

-- name: dp_cached_answers
-- The dataset's current data version, with the answers already released at it for these
-- canonical queries (one row with NULL hash when none is).
SELECT v.version, a.query_hash, a.answer
FROM dataset_versions v
LEFT JOIN dp_answers a ON a.dataset = v.dataset AND a.data_version = v.version
                      AND a.query_hash = ANY ($2::text[])
WHERE v.dataset = $1

-- name: dp_store_answer
-- Keep the first released answer; a concurrent release of the same query gets the stored one back.
WITH ins AS (
    INSERT INTO dp_answers (dataset, query_hash, data_version, canonical, answer, epsilon)
    VALUES ($1, $2, $3, $4, $5, $6::numeric)
    ON CONFLICT (dataset, query_hash, data_version) DO NOTHING
    RETURNING answer
)
SELECT answer FROM ins
UNION ALL
SELECT answer FROM dp_answers
WHERE dataset = $1 AND query_hash = $2 AND data_version = $3 AND NOT EXISTS (SELECT 1 FROM ins)

-- name: dp_ledger_entries
-- One analyst's own ledger on one dataset, newest first ($3 at most).
SELECT event_id, kind, epsilon, delta, cardinality(query_hashes) AS queries, at
FROM privacy_events
WHERE analyst_id = $1 AND dataset = $2
ORDER BY event_id DESC
LIMIT $3
