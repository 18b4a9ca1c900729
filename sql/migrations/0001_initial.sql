-- 0001: the data model of DESIGN §3.
-- User-scoped tables lead with user_id so they can be distributed by it (Citus); catalog tables
-- (items, item_relations, segments, offers) are small reference tables.

CREATE TABLE users (
    user_id               bigint PRIMARY KEY,
    created_at            timestamptz NOT NULL DEFAULT now(),
    personalization_level text NOT NULL DEFAULT 'BASIC'
                          CHECK (personalization_level IN ('NONE', 'BASIC', 'FULL')),
    is_minor              boolean NOT NULL DEFAULT false,
    birth_year_range      text CHECK (birth_year_range ~ '^[0-9]{4}-[0-9]{4}$'),
    country               text CHECK (country ~ '^[A-Z]{2}$'),
    platform              text CHECK (platform IN ('web', 'ios', 'android')),
    preferred_channel     text CHECK (preferred_channel IN ('email', 'sms', 'push', 'in_app')),
    objected_to_marketing boolean NOT NULL DEFAULT false,
    -- Bumped on every change that alters what may be read about the user (consent, level,
    -- objection, hidden inferences); consent snapshot ids and layout ETags derive from it.
    consent_version       integer NOT NULL DEFAULT 0
);

CREATE TABLE user_channels (
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    channel    text NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'in_app')),
    subscribed boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, channel)
);

-- Progressive profile: only declared fields, each with its category, purpose and stage.
CREATE TABLE profile_fields (
    user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    field         text NOT NULL,
    value         text NOT NULL,
    data_category text NOT NULL,
    purpose       text NOT NULL,
    stage         text NOT NULL,
    source        text NOT NULL CHECK (source IN ('stated_by_user', 'derived')),
    collected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, field)
);

-- Current consent per purpose; consent_events is the append-only receipt log.
CREATE TABLE consents (
    user_id        bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    purpose        text NOT NULL,
    granted        boolean NOT NULL,
    method         text NOT NULL CHECK (method IN ('explicit', 'gpc', 'objection', 'default')),
    notice_version integer NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, purpose)
);

CREATE TABLE consent_events (
    user_id        bigint NOT NULL,
    receipt_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    purpose        text NOT NULL,
    granted        boolean NOT NULL,
    method         text NOT NULL CHECK (method IN ('explicit', 'gpc', 'objection', 'default')),
    notice_version integer NOT NULL,
    note           text,
    at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, receipt_id)
);
CREATE INDEX consent_events_user_at ON consent_events (user_id, at);

CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Receipts are never edited; erasure (a DELETE) is the only way they leave.
    RAISE EXCEPTION 'consent_events is append-only';
END $$;
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();

-- Catalog.
CREATE TABLE items (
    item_id          bigint PRIMARY KEY,
    sku              text NOT NULL UNIQUE,
    name             text NOT NULL,
    category         text NOT NULL,
    subcategory      text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('product', 'restaurant')),
    price_cents      integer NOT NULL CHECK (price_cents >= 0),
    price_level      smallint NOT NULL CHECK (price_level BETWEEN 1 AND 4),
    is_consumable    boolean NOT NULL DEFAULT false,
    repurchase_days  integer CHECK (repurchase_days > 0),
    -- NULL for ordinary items; otherwise the sensitive topic (health, pregnancy, ...), which is
    -- never a targeting input.
    sensitive_topic  text,
    popularity       double precision NOT NULL DEFAULT 0,
    editorial_rank   integer,
    active           boolean NOT NULL DEFAULT true,
    CHECK (NOT is_consumable OR repurchase_days IS NOT NULL)
);
CREATE INDEX items_category ON items (category);

CREATE TABLE item_relations (
    item_id         bigint NOT NULL REFERENCES items,
    related_item_id bigint NOT NULL REFERENCES items,
    relation        text NOT NULL CHECK (relation IN ('complement', 'substitute')),
    strength        real NOT NULL DEFAULT 1.0,
    PRIMARY KEY (item_id, relation, related_item_id),
    CHECK (item_id <> related_item_id)
);

-- Events: the id is client-generated, so a resent event is a no-op.
CREATE TABLE events (
    user_id     bigint NOT NULL,
    event_id    uuid NOT NULL,
    type        text NOT NULL CHECK (type IN ('view', 'click', 'dwell', 'search', 'add_to_cart',
                                    'remove_from_cart', 'purchase', 'booking', 'session_start',
                                    'feature_used')),
    item_id     bigint,
    value       bigint,
    feature     text,
    query       text,
    platform    text,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event_id)
);
CREATE INDEX events_user_type_time ON events (user_id, type, occurred_at);
CREATE INDEX events_time ON events (occurred_at);

-- Per-user rollup, kept current by ingestion in the same transaction as the events.
CREATE TABLE user_signals (
    user_id            bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    sessions           integer NOT NULL DEFAULT 0,
    first_seen         timestamptz,
    last_seen          timestamptz,
    views              integer NOT NULL DEFAULT 0,
    clicks             integer NOT NULL DEFAULT 0,
    add_to_carts       integer NOT NULL DEFAULT 0,
    purchases          integer NOT NULL DEFAULT 0,
    bookings           integer NOT NULL DEFAULT 0,
    total_spend_cents  bigint NOT NULL DEFAULT 0,
    -- spend per UTC day, trimmed to the last 400 days: {"2026-11-01": 1299, ...}
    spend_by_day       jsonb NOT NULL DEFAULT '{}',
    -- purchases + bookings per price level 1..4
    price_level_counts integer[] NOT NULL DEFAULT '{0,0,0,0}',
    -- distinct features used with counts: {"search": 12, "wishlist": 3}
    feature_counts     jsonb NOT NULL DEFAULT '{}',
    -- behavioural category affinity (views/clicks/carts/purchases, weighted): {"apparel": 4.5}
    category_affinity  jsonb NOT NULL DEFAULT '{}',
    -- last purchase time per purchased item: {"123": "2026-11-01T10:00:00Z"}
    purchased_items    jsonb NOT NULL DEFAULT '{}',
    -- current cart: {"123": 2}
    cart               jsonb NOT NULL DEFAULT '{}',
    cart_value_cents   bigint NOT NULL DEFAULT 0,
    cart_updated_at    timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Per-user, per-category rollup for analytics (funnels, "category bought") over bounded rows.
CREATE TABLE user_category_stats (
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    category     text NOT NULL,
    views        integer NOT NULL DEFAULT 0,
    add_to_carts integer NOT NULL DEFAULT 0,
    purchases    integer NOT NULL DEFAULT 0,
    spend_cents  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, category)
);

-- Segments: versioned JSON condition trees over declared attributes.
CREATE TABLE segments (
    segment_id      bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    description     text NOT NULL DEFAULT '',
    current_version integer NOT NULL DEFAULT 1,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    archived        boolean NOT NULL DEFAULT false
);

CREATE TABLE segment_versions (
    segment_id bigint NOT NULL REFERENCES segments ON DELETE CASCADE,
    version    integer NOT NULL,
    rule       jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, version)
);

CREATE TABLE offers (
    offer_id         bigserial PRIMARY KEY,
    name             text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('welcome', 'abandoned_cart', 're_engagement',
                                           'spend_over', 'segment')),
    segment_id       bigint REFERENCES segments,
    item_id          bigint REFERENCES items,
    discount_pct     smallint CHECK (discount_pct BETWEEN 0 AND 100),
    surface          text NOT NULL DEFAULT 'home',
    channel          text CHECK (channel IN ('email', 'sms', 'push', 'in_app')),
    -- kind-specific parameters (cart value threshold, days inactive, spend threshold): public config
    params           jsonb NOT NULL DEFAULT '{}',
    cap_per_window   integer CHECK (cap_per_window > 0),
    cap_window_hours integer CHECK (cap_window_hours > 0),
    priority         integer NOT NULL DEFAULT 0,
    active           boolean NOT NULL DEFAULT true,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Offer impressions, counted in PostgreSQL so every worker sees the same frequency caps.
CREATE TABLE impressions (
    user_id   bigint NOT NULL,
    impression_id bigserial,
    offer_id  bigint NOT NULL REFERENCES offers,
    device_id text,
    channel   text,
    shown_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, impression_id)
);
CREATE INDEX impressions_user_offer_time ON impressions (user_id, offer_id, shown_at);

-- Decision log: the record behind every personalized answer; `why` is rendered from it.
CREATE TABLE decisions (
    user_id             bigint NOT NULL,
    decision_id         uuid NOT NULL DEFAULT gen_random_uuid(),
    surface             text NOT NULL,
    subject_kind        text NOT NULL CHECK (subject_kind IN ('item', 'offer', 'tag', 'layout', 'reminder')),
    subject_id          text NOT NULL,
    rank                integer,
    mode                text NOT NULL CHECK (mode IN ('PERSONALIZED', 'NON_PERSONALIZED', 'CONTEXTUAL')),
    record              jsonb NOT NULL,
    consent_snapshot_id text NOT NULL,
    generated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, decision_id)
);
CREATE INDEX decisions_user_time ON decisions (user_id, generated_at DESC);

-- Inferences the user chose to hide (a tag or segment); hidden inferences are not used.
CREATE TABLE hidden_inferences (
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    inference  text NOT NULL,
    hidden_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, inference)
);

-- Analysts and the differential-privacy ledger.
CREATE TABLE analysts (
    analyst_id text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE privacy_budgets (
    analyst_id    text NOT NULL,
    dataset       text NOT NULL,
    epsilon_cap   numeric NOT NULL CHECK (epsilon_cap >= 0),
    epsilon_spent numeric NOT NULL DEFAULT 0 CHECK (epsilon_spent >= 0),
    delta_cap     numeric NOT NULL DEFAULT 1e-6 CHECK (delta_cap >= 0),
    delta_spent   numeric NOT NULL DEFAULT 0 CHECK (delta_spent >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (analyst_id, dataset),
    CHECK (epsilon_spent <= epsilon_cap),
    CHECK (delta_spent <= delta_cap)
);

CREATE TABLE privacy_events (
    event_id     bigserial PRIMARY KEY,
    analyst_id   text NOT NULL,
    dataset      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('charge', 'cap_set', 'refund')),
    epsilon      numeric NOT NULL,
    delta        numeric NOT NULL DEFAULT 0,
    request_id   text,
    query_hashes text[] NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION privacy_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'privacy_events is append-only';
END $$;
CREATE TRIGGER privacy_events_no_change BEFORE UPDATE OR DELETE ON privacy_events
    FOR EACH ROW EXECUTE FUNCTION privacy_events_append_only();

-- A data version per dataset: bumped when the underlying data changes enough to re-release.
CREATE TABLE dataset_versions (
    dataset text PRIMARY KEY,
    version bigint NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Released noisy answers: the same canonical query on the same data version returns the same
-- answer and costs nothing.
CREATE TABLE dp_answers (
    dataset      text NOT NULL,
    query_hash   text NOT NULL,
    data_version bigint NOT NULL,
    canonical    text NOT NULL,
    answer       jsonb NOT NULL,
    epsilon      numeric NOT NULL,
    released_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, query_hash, data_version)
);

-- Who read what personal data, for which purpose.
CREATE TABLE audit_log (
    audit_id        bigserial PRIMARY KEY,
    request_id      text NOT NULL,
    principal_role  text NOT NULL,
    principal_id    text,
    subject_user_id bigint,
    purpose         text NOT NULL,
    table_name      text NOT NULL,
    action          text NOT NULL DEFAULT 'read',
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_subject ON audit_log (subject_user_id, at);
CREATE INDEX audit_log_request ON audit_log (request_id);

-- That an erasure happened, with no personal data (not even the erased id).
CREATE TABLE erasure_log (
    erasure_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    erased_at    timestamptz NOT NULL DEFAULT now(),
    rows_deleted bigint NOT NULL,
    tables       text[] NOT NULL
);

-- Public configuration version, part of the layout ETag.
CREATE TABLE config_versions (
    name    text PRIMARY KEY,
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO config_versions (name, version) VALUES ('layout', 1);
INSERT INTO dataset_versions (dataset, version) VALUES ('audience', 1);
