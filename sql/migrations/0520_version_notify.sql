-- 0520: the layout ETag's inputs are announced when they change, so every worker keeps them in
-- memory and answers a matching If-None-Match without a round trip (gateway/etag_cache.py
-- listens on gateway_versions). The payload is the user id whose consent_version (users) or
-- layout_inputs_version (user_signals) moved, or '*' after a TRUNCATE. The public layout rule
-- version (config_versions) is already announced on gateway_reference (migration 0072).
-- Row triggers fire only when the counter changes; notifications are delivered at commit and a
-- transaction's identical payloads are sent once. Inserts announce nothing (so bulk loads and
-- seeding pay nothing): the cache keeps only users who have both rows, and a row that does not
-- exist yet was never cached.

CREATE FUNCTION notify_user_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('gateway_versions', '*');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('gateway_versions', OLD.user_id::text);
    ELSE
        PERFORM pg_notify('gateway_versions', NEW.user_id::text);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_version_changed AFTER UPDATE OF consent_version ON users
    FOR EACH ROW WHEN (OLD.consent_version IS DISTINCT FROM NEW.consent_version)
    EXECUTE FUNCTION notify_user_versions();
CREATE TRIGGER users_removed AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_versions();
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_user_versions();

CREATE TRIGGER signals_version_changed AFTER UPDATE OF layout_inputs_version ON user_signals
    FOR EACH ROW WHEN (OLD.layout_inputs_version IS DISTINCT FROM NEW.layout_inputs_version)
    EXECUTE FUNCTION notify_user_versions();
CREATE TRIGGER signals_removed AFTER DELETE ON user_signals
    FOR EACH ROW EXECUTE FUNCTION notify_user_versions();
CREATE TRIGGER signals_truncated AFTER TRUNCATE ON user_signals
    FOR EACH STATEMENT EXECUTE FUNCTION notify_user_versions();
