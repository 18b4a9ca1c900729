-- 0130: who may spend privacy budget, and the bound per person (privacy/PROOFS.md, "Budget").
-- * Analysts and marketers exist only when an admin creates them (no budget on first charge).
-- * A cap per dataset across all of them: the most any one person's data is exposed to.
-- * A release that fails after its charge is refunded by an append-only `refund` event.
-- * Released answers are kept per release period (clock / period) and each spender pays once
--   per answer, so what a spender can observe of the cache is their own history and the clock,
--   never the data.

-- Spenders: analysts (the DP templates) and marketers (DP segment sizes), one namespace.
ALTER TABLE analysts
    ADD COLUMN role text NOT NULL DEFAULT 'analyst' CHECK (role IN ('analyst', 'marketer')),
    ADD COLUMN created_by text NOT NULL DEFAULT 'before 0130';
ALTER TABLE analysts ALTER COLUMN role DROP DEFAULT, ALTER COLUMN created_by DROP DEFAULT;

-- The ledger: dataset-level shares of each charge, refunds tied to their charge, who set a cap.
ALTER TABLE privacy_events
    ALTER COLUMN analyst_id DROP NOT NULL,
    ADD COLUMN dataset_epsilon numeric NOT NULL DEFAULT 0 CHECK (dataset_epsilon >= 0),
    ADD COLUMN dataset_delta numeric NOT NULL DEFAULT 0 CHECK (dataset_delta >= 0),
    ADD COLUMN refund_of bigint REFERENCES privacy_events,
    ADD COLUMN actor text;
-- Before 0130 every charge paid for new releases only, so its dataset share is the whole charge.
-- The one rewrite of history this ledger allows: filling a new column with a value it already had.
ALTER TABLE privacy_events DISABLE TRIGGER privacy_events_no_change;
UPDATE privacy_events SET dataset_epsilon = epsilon, dataset_delta = delta WHERE kind = 'charge';
ALTER TABLE privacy_events ENABLE TRIGGER privacy_events_no_change;
ALTER TABLE privacy_events DROP CONSTRAINT privacy_events_kind_check;
ALTER TABLE privacy_events
    ADD CONSTRAINT privacy_events_kind_check
        CHECK (kind IN ('charge', 'refund', 'cap_set', 'dataset_cap_set')),
    ADD CONSTRAINT privacy_events_spender CHECK ((analyst_id IS NULL) = (kind = 'dataset_cap_set')),
    ADD CONSTRAINT privacy_events_refund CHECK ((refund_of IS NOT NULL) = (kind = 'refund'));
CREATE INDEX privacy_events_refunds ON privacy_events (refund_of) WHERE refund_of IS NOT NULL;

-- Identities that got a budget from the old default on first charge stay on record (their
-- charges remain accounted), but only those an admin gave a cap keep spending: the others are
-- frozen at what they spent until an admin raises their cap.
INSERT INTO analysts (analyst_id, name, role, created_by)
SELECT DISTINCT b.analyst_id, b.analyst_id, 'analyst', 'before 0130' FROM privacy_budgets b
ON CONFLICT (analyst_id) DO NOTHING;
WITH frozen AS (
    UPDATE privacy_budgets b
    SET epsilon_cap = b.epsilon_spent, delta_cap = b.delta_spent, updated_at = now()
    WHERE NOT EXISTS (SELECT 1 FROM privacy_events e
                      WHERE e.analyst_id = b.analyst_id AND e.dataset = b.dataset AND e.kind = 'cap_set')
    RETURNING b.analyst_id, b.dataset, b.epsilon_cap, b.delta_cap
)
INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon, delta, request_id, actor)
SELECT analyst_id, dataset, 'cap_set', epsilon_cap, delta_cap, 'migration 0130', 'migration 0130'
FROM frozen;
ALTER TABLE privacy_budgets ADD FOREIGN KEY (analyst_id) REFERENCES analysts;

-- The cap per dataset across every spender: epsilon_spent is the sum of the dataset shares of
-- all charges less refunds, so it bounds the privacy loss of any one person in the dataset.
CREATE TABLE dataset_budgets (
    dataset       text PRIMARY KEY,
    epsilon_cap   numeric NOT NULL CHECK (epsilon_cap >= 0),
    epsilon_spent numeric NOT NULL DEFAULT 0 CHECK (epsilon_spent >= 0),
    delta_cap     numeric NOT NULL CHECK (delta_cap >= 0 AND delta_cap < 1),
    delta_spent   numeric NOT NULL DEFAULT 0 CHECK (delta_spent >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (epsilon_spent <= epsilon_cap),
    CHECK (delta_spent <= delta_cap)
);
-- Every dataset starts at 10 (and 1e-5), or at what its analysts have already spent if more.
INSERT INTO dataset_budgets (dataset, epsilon_cap, epsilon_spent, delta_cap, delta_spent)
SELECT v.dataset, greatest(10, coalesce(s.epsilon, 0)), coalesce(s.epsilon, 0),
       greatest(0.00001, coalesce(s.delta, 0)), coalesce(s.delta, 0)
FROM dataset_versions v
LEFT JOIN (SELECT dataset, sum(epsilon_spent) AS epsilon, sum(delta_spent) AS delta
           FROM privacy_budgets GROUP BY dataset) s ON s.dataset = v.dataset;
ALTER TABLE privacy_budgets ADD FOREIGN KEY (dataset) REFERENCES dataset_budgets;

-- Answers are kept per (data version, release period): the data version is bumped only by an
-- operator replacing the data (gateway seed --replace), the epoch by the clock. Answers stored
-- before 0130 belong to epoch 0 and are never served again.
ALTER TABLE dp_answers
    ADD COLUMN epoch bigint NOT NULL DEFAULT 0,
    ADD COLUMN charge_event bigint REFERENCES privacy_events;
ALTER TABLE dp_answers ALTER COLUMN epoch DROP DEFAULT;
ALTER TABLE dp_answers DROP CONSTRAINT dp_answers_pkey;
ALTER TABLE dp_answers ADD PRIMARY KEY (dataset, data_version, epoch, query_hash);

-- Which spender paid for which answer in which period: a repeat is free only for them.
CREATE TABLE dp_answer_receipts (
    analyst_id   text NOT NULL REFERENCES analysts,
    dataset      text NOT NULL,
    data_version bigint NOT NULL,
    epoch        bigint NOT NULL,
    query_hash   text NOT NULL,
    charge_event bigint NOT NULL REFERENCES privacy_events,
    PRIMARY KEY (analyst_id, dataset, data_version, epoch, query_hash)
);

-- Charge a spender (p_epsilon, p_delta) and the dataset (its share: answers not yet released in
-- this period) at once, or nothing. Both rows are locked (the spender's first, then the
-- dataset's; dp_refund takes them in the same order, so the two never deadlock) before either
-- condition is read, so concurrent charges on a dataset run one after the other, each against
-- what the previous left. The event and the receipts are written in the same transaction.
CREATE FUNCTION dp_charge(
    p_analyst text, p_role text, p_dataset text, p_epsilon numeric, p_delta numeric,
    p_dataset_epsilon numeric, p_dataset_delta numeric, p_request_id text,
    p_query_hashes text[], p_version bigint, p_epoch bigint)
RETURNS TABLE (outcome text, charge_event bigint, remaining numeric, dataset_remaining numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    b privacy_budgets%ROWTYPE;
    d dataset_budgets%ROWTYPE;
    ev bigint;
BEGIN
    IF p_epsilon < 0 OR p_delta < 0 OR p_dataset_epsilon < 0 OR p_dataset_delta < 0
       OR p_dataset_epsilon > p_epsilon OR p_dataset_delta > p_delta THEN
        RAISE EXCEPTION 'dp_charge: shares must be >= 0 and the dataset share at most the charge';
    END IF;
    SELECT pb.* INTO b FROM privacy_budgets pb
    JOIN analysts a ON a.analyst_id = pb.analyst_id AND a.role = p_role
    WHERE pb.analyst_id = p_analyst AND pb.dataset = p_dataset
    FOR NO KEY UPDATE OF pb;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown_spender'::text, NULL::bigint, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;
    SELECT * INTO d FROM dataset_budgets WHERE dataset = p_dataset FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown_dataset'::text, NULL::bigint, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;
    IF b.epsilon_spent + p_epsilon > b.epsilon_cap OR b.delta_spent + p_delta > b.delta_cap THEN
        RETURN QUERY SELECT 'spender_exhausted'::text, NULL::bigint, b.epsilon_cap - b.epsilon_spent,
                            d.epsilon_cap - d.epsilon_spent;
        RETURN;
    END IF;
    IF d.epsilon_spent + p_dataset_epsilon > d.epsilon_cap
       OR d.delta_spent + p_dataset_delta > d.delta_cap THEN
        RETURN QUERY SELECT 'dataset_exhausted'::text, NULL::bigint, b.epsilon_cap - b.epsilon_spent,
                            d.epsilon_cap - d.epsilon_spent;
        RETURN;
    END IF;
    UPDATE privacy_budgets
    SET epsilon_spent = epsilon_spent + p_epsilon, delta_spent = delta_spent + p_delta, updated_at = now()
    WHERE analyst_id = p_analyst AND dataset = p_dataset;
    UPDATE dataset_budgets
    SET epsilon_spent = epsilon_spent + p_dataset_epsilon, delta_spent = delta_spent + p_dataset_delta,
        updated_at = now()
    WHERE dataset = p_dataset;
    INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon, delta, dataset_epsilon,
                                dataset_delta, request_id, query_hashes)
    VALUES (p_analyst, p_dataset, 'charge', p_epsilon, p_delta, p_dataset_epsilon, p_dataset_delta,
            p_request_id, p_query_hashes)
    RETURNING event_id INTO ev;
    INSERT INTO dp_answer_receipts (analyst_id, dataset, data_version, epoch, query_hash, charge_event)
    SELECT p_analyst, p_dataset, p_version, p_epoch, h, ev FROM unnest(p_query_hashes) h
    ON CONFLICT DO NOTHING;
    RETURN QUERY SELECT 'charged'::text, ev, b.epsilon_cap - b.epsilon_spent - p_epsilon,
                        d.epsilon_cap - d.epsilon_spent - p_dataset_epsilon;
END $$;

-- Give back one query's share of a charge whose release failed before anything was returned.
-- Refused when that release was stored (it was released), when the query was not part of the
-- charge or already refunded, or when the refunds would exceed the charge. Same locks as dp_charge.
CREATE FUNCTION dp_refund(
    p_charge bigint, p_query_hash text, p_epsilon numeric, p_delta numeric,
    p_dataset_epsilon numeric, p_dataset_delta numeric, p_request_id text)
RETURNS text
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    c privacy_events%ROWTYPE;
    done record;
BEGIN
    SELECT * INTO c FROM privacy_events WHERE event_id = p_charge AND kind = 'charge';
    IF NOT FOUND OR NOT (p_query_hash = ANY (c.query_hashes)) THEN
        RETURN 'not_charged';
    END IF;
    PERFORM 1 FROM privacy_budgets WHERE analyst_id = c.analyst_id AND dataset = c.dataset FOR NO KEY UPDATE;
    PERFORM 1 FROM dataset_budgets WHERE dataset = c.dataset FOR NO KEY UPDATE;
    IF EXISTS (SELECT 1 FROM dp_answers a WHERE a.charge_event = p_charge AND a.query_hash = p_query_hash) THEN
        RETURN 'released';
    END IF;
    IF EXISTS (SELECT 1 FROM privacy_events r
               WHERE r.refund_of = p_charge AND p_query_hash = ANY (r.query_hashes)) THEN
        RETURN 'already_refunded';
    END IF;
    SELECT coalesce(sum(r.epsilon), 0) AS e, coalesce(sum(r.delta), 0) AS d,
           coalesce(sum(r.dataset_epsilon), 0) AS de, coalesce(sum(r.dataset_delta), 0) AS dd
    INTO done FROM privacy_events r WHERE r.refund_of = p_charge;
    IF p_epsilon < 0 OR p_delta < 0 OR p_dataset_epsilon < 0 OR p_dataset_delta < 0
       OR done.e + p_epsilon > c.epsilon OR done.d + p_delta > c.delta
       OR done.de + p_dataset_epsilon > c.dataset_epsilon OR done.dd + p_dataset_delta > c.dataset_delta THEN
        RETURN 'exceeds_charge';
    END IF;
    UPDATE privacy_budgets
    SET epsilon_spent = epsilon_spent - p_epsilon, delta_spent = delta_spent - p_delta, updated_at = now()
    WHERE analyst_id = c.analyst_id AND dataset = c.dataset;
    UPDATE dataset_budgets
    SET epsilon_spent = epsilon_spent - p_dataset_epsilon, delta_spent = delta_spent - p_dataset_delta,
        updated_at = now()
    WHERE dataset = c.dataset;
    INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon, delta, dataset_epsilon,
                                dataset_delta, request_id, query_hashes, refund_of)
    VALUES (c.analyst_id, c.dataset, 'refund', p_epsilon, p_delta, p_dataset_epsilon, p_dataset_delta,
            p_request_id, ARRAY[p_query_hash], p_charge);
    DELETE FROM dp_answer_receipts r
    WHERE r.analyst_id = c.analyst_id AND r.charge_event = p_charge AND r.query_hash = p_query_hash;
    RETURN 'refunded';
END $$;
