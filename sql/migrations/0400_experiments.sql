-- 0400: experiments (issue 13). Definitions are public marketer configuration, versioned like
-- segments (each edit an immutable version); assignment is a hash and writes nothing, so the only
-- personal rows are the first exposure per user and experiment (user_id leads the key: erasure
-- and export find it) and the offer click / redemption events, tied to an offer id.

CREATE TABLE experiments (
    experiment_id   bigserial PRIMARY KEY,
    key             text NOT NULL UNIQUE CHECK (key ~ '^[a-z][a-z0-9_]{0,59}$'),
    current_version integer NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'running', 'stopped')),
    started_at      timestamptz,
    stopped_at      timestamptz,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE experiment_versions (
    experiment_id bigint NOT NULL REFERENCES experiments ON DELETE CASCADE,
    version       integer NOT NULL,
    definition    jsonb NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (experiment_id, version)
);

-- The first exposure of a user to an experiment: written once (ON CONFLICT DO NOTHING), by the
-- request that decided it; later requests and other workers agree on the variant by hashing.
CREATE TABLE experiment_exposures (
    user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    experiment_id bigint NOT NULL REFERENCES experiments ON DELETE CASCADE,
    variant       text NOT NULL,
    request_id    text NOT NULL,
    exposed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, experiment_id)
);
CREATE INDEX experiment_exposures_experiment ON experiment_exposures (experiment_id, variant);

CREATE TRIGGER experiments_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON experiments
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('experiments');
CREATE TRIGGER experiment_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON experiment_versions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('experiments');

-- Offer outcomes are events tied to an offer.
ALTER DOMAIN event_type DROP CONSTRAINT event_type_check;
ALTER DOMAIN event_type ADD CONSTRAINT event_type_check CHECK (VALUE IN ('view', 'click', 'dwell',
    'search', 'add_to_cart', 'remove_from_cart', 'purchase', 'booking', 'session_start',
    'feature_used', 'offer_click', 'offer_redemption'));
ALTER TABLE events ADD COLUMN offer_id bigint;
CREATE INDEX events_offer ON events (offer_id, type) WHERE offer_id IS NOT NULL;

-- Leaving every experiment is one of the person's controls.
ALTER DOMAIN control_kind DROP CONSTRAINT control_kind_check;
ALTER DOMAIN control_kind ADD CONSTRAINT control_kind_check CHECK (VALUE IN ('hide_item', 'less_like',
    'hide_offer', 'mute_reminder', 'hide_inference', 'leave_experiments'));

-- Layouts depend on the running layout and offer-count experiments: any change to experiments
-- moves the layout rule version, so layout ETags change with them (a cached 304 never hides a
-- started or stopped experiment).
CREATE FUNCTION bump_layout_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE config_versions SET version = version + 1 WHERE name = 'layout';
    RETURN NULL;
END $$;
CREATE TRIGGER experiments_move_layout AFTER INSERT OR UPDATE OR DELETE ON experiments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_layout_version();
CREATE TRIGGER experiment_versions_move_layout AFTER INSERT OR UPDATE OR DELETE ON experiment_versions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_layout_version();
