-- 0430: purchase-propensity models trained with differential privacy (jobs/propensity.py).
-- * Models are stored versioned, with their model card; which version serves is a separate row
--   (`model_active`), so a rollback is one update and every worker drops its cached model on
--   the NOTIFY it sends (resolvers/model/reference.py).
-- * Training spends privacy budget through the same ledger as analysts' queries: the trainer is
--   a spender of role 'model' with its own cap on the 'audience' dataset, and the dataset cap
--   (the bound on any one person's privacy loss) counts both.

ALTER TABLE analysts DROP CONSTRAINT analysts_role_check;
ALTER TABLE analysts ADD CONSTRAINT analysts_role_check CHECK (role IN ('analyst', 'marketer', 'model'));

CREATE TABLE models (
    name            text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    version         integer NOT NULL CHECK (version > 0),
    spec_version    integer NOT NULL,
    features        text[] NOT NULL,
    coefficients    double precision[] NOT NULL,
    intercept       double precision NOT NULL,
    epsilon         numeric NOT NULL CHECK (epsilon > 0),
    delta           numeric NOT NULL CHECK (delta >= 0 AND delta < 1),
    cutoff          timestamptz NOT NULL,
    horizon_days    integer NOT NULL CHECK (horizon_days > 0),
    noisy_training_size integer NOT NULL,
    charge_event    bigint NOT NULL UNIQUE REFERENCES privacy_events,
    card            jsonb NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version),
    CHECK (cardinality(features) = cardinality(coefficients))
);

-- The version that serves, per model name; history of activations in model_activations.
CREATE TABLE model_active (
    name         text PRIMARY KEY,
    version      integer NOT NULL,
    activated_by text NOT NULL,
    activated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (name, version) REFERENCES models
);
CREATE TABLE model_activations (
    activation_id bigserial PRIMARY KEY,
    name          text NOT NULL,
    version       integer NOT NULL,
    previous      integer,
    actor         text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (name, version) REFERENCES models
);

CREATE TRIGGER model_active_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON model_active
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('models');

-- The trainer's budget: a spender of role 'model' on the audience dataset, ε 3 / δ 0 to start
-- (an admin changes it with setAnalystBudget like any spender's cap).
INSERT INTO analysts (analyst_id, name, role, created_by)
VALUES ('model:propensity', 'purchase-propensity training', 'model', 'migration 0430');
INSERT INTO privacy_budgets (analyst_id, dataset, epsilon_cap, delta_cap)
VALUES ('model:propensity', 'audience', 3, 0);
INSERT INTO privacy_events (analyst_id, dataset, kind, epsilon, delta, request_id, actor)
VALUES ('model:propensity', 'audience', 'cap_set', 3, 0, 'migration 0430', 'migration 0430');
