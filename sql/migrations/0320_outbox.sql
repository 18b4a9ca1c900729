-- 0320: the notification outbox, the person's time zone, and cancellation at the source.
--
-- A message (a reminder today; key-date messages and channel offers later) is one outbox row,
-- written in the same statement as the decision record that made it (jobs/outbox.py), and
-- delivered at least once by the delivery job (jobs/delivery.py) to the sink of its channel.
-- message_id is the idempotency key the receiver sees: a message re-sent after a crash carries
-- the same key. user_id leads every key, and erase_user finds the table by that column.

-- The person's IANA time zone (quiet hours are kept in it). The API validates the name against
-- the tz database (resolvers/account/time_zone.py); the check here only bounds its shape.
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CHECK (length(time_zone) <= 64 AND time_zone ~ '^[A-Za-z][A-Za-z0-9_+/-]*$');

CREATE TABLE outbox (
    user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    message_id    uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('reminder', 'key_date', 'channel_offer')),
    channel       channel NOT NULL,  -- the domain of migration 0070 (privacy/vocabulary.py)
    -- What the message needs at delivery time: this purpose on this kind of data (re-checked
    -- against the person's consent when the message is claimed).
    purpose       text NOT NULL,
    source        text NOT NULL CHECK (source IN ('account', 'stated', 'behavioural', 'derived')),
    -- Scheduling the same message twice is a no-op (e.g. 'reminder:<item>:<purchase time>').
    dedupe_key    text NOT NULL,
    decision_id   uuid NOT NULL,
    -- The text and its why, rendered from the decision record when the message was queued.
    message       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'sending', 'sent', 'cancelled', 'failed')),
    not_before    timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    -- A claim: who is sending it (a token per claim), since when (the first claim counts against
    -- the per-person cap), and until when (a claim whose lease ran out is taken over).
    claim_token   uuid,
    claimed_at    timestamptz,
    lease_until   timestamptz,
    sent_at       timestamptz,
    last_error    text,
    -- Why it was cancelled, or why it waits (quiet hours, the per-person cap).
    status_reason text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, message_id),
    UNIQUE (user_id, dedupe_key),
    CHECK (status <> 'sending' OR (claim_token IS NOT NULL AND lease_until IS NOT NULL))
);
CREATE INDEX outbox_due ON outbox (not_before) WHERE status = 'queued';
CREATE INDEX outbox_leases ON outbox (lease_until) WHERE status = 'sending';
CREATE INDEX outbox_user_claimed ON outbox (user_id, claimed_at) WHERE claimed_at IS NOT NULL;
CREATE INDEX outbox_created ON outbox (created_at);

-- Cancel what is still queued for a person: on one channel, for one purpose, for every
-- marketing purpose, or (all NULL) all of it, with the reason. A message already claimed is not
-- touched: it may be at the receiver.
CREATE FUNCTION outbox_cancel_queued(
    p_user bigint, p_channel text, p_purpose text, p_marketing boolean, p_reason text)
RETURNS void LANGUAGE sql AS $$
UPDATE outbox SET status = 'cancelled', status_reason = p_reason, updated_at = now()
WHERE user_id = p_user AND status = 'queued'
  AND (p_channel IS NULL OR channel = p_channel)
  AND (p_purpose IS NULL OR purpose = p_purpose)
  AND (p_marketing IS NULL OR starts_with(purpose, 'marketing.'))
$$;

-- The writes that withdraw permission cancel in their own transaction, whoever makes them (the
-- API today, any other writer later). The delivery job re-checks the person's whole consent
-- snapshot when it claims a message, which also covers what no trigger sees (a level change, a
-- notice version bump, a minor flag).
-- The triggers fire only on the change that withdraws (WHEN): a first INSERT cannot, since a
-- message is queued only while the subscription and the grant exist, and bulk loads of new rows
-- (gateway seed) pay nothing.
CREATE FUNCTION outbox_cancel_on_unsubscribe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM outbox_cancel_queued(NEW.user_id, NEW.channel, NULL, NULL, 'unsubscribed from ' || NEW.channel);
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_cancel_on_unsubscribe AFTER UPDATE OF subscribed ON user_channels
    FOR EACH ROW WHEN (OLD.subscribed AND NOT NEW.subscribed)
    EXECUTE FUNCTION outbox_cancel_on_unsubscribe();

CREATE FUNCTION outbox_cancel_on_withdrawal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM outbox_cancel_queued(NEW.user_id, NULL, NEW.purpose, NULL, 'consent withdrawn for ' || NEW.purpose);
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_cancel_on_withdrawal AFTER UPDATE OF granted ON consents
    FOR EACH ROW WHEN (OLD.granted AND NOT NEW.granted)
    EXECUTE FUNCTION outbox_cancel_on_withdrawal();

CREATE FUNCTION outbox_cancel_on_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.objected_to_marketing AND NOT OLD.objected_to_marketing THEN
        PERFORM outbox_cancel_queued(NEW.user_id, NULL, NULL, true, 'objection to direct marketing');
    END IF;
    IF NEW.preferred_channel IS DISTINCT FROM OLD.preferred_channel THEN
        UPDATE outbox SET status = 'cancelled', status_reason = 'no longer your preferred channel',
                          updated_at = now()
        WHERE user_id = NEW.user_id AND status = 'queued' AND channel IS DISTINCT FROM NEW.preferred_channel;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_cancel_on_account_change
    AFTER UPDATE OF objected_to_marketing, preferred_channel ON users
    FOR EACH ROW WHEN ((NEW.objected_to_marketing AND NOT OLD.objected_to_marketing)
                       OR NEW.preferred_channel IS DISTINCT FROM OLD.preferred_channel)
    EXECUTE FUNCTION outbox_cancel_on_account_change();
