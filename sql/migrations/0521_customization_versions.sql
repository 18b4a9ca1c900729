-- 0521: a person's own settings (user_customization, migration 0460) are part of the layout ETag,
-- so the per-worker ETag cache (gateway/etag_cache.py, migration 0520) must hear of every change:
-- the first save (an insert: unlike users and user_signals, this table is written only by the
-- person's own mutation, so announcing inserts costs bulk loads nothing), each later save or
-- reset, an erasure, and a TRUNCATE.

CREATE TRIGGER customization_changed AFTER INSERT OR UPDATE OR DELETE ON user_customization
    FOR EACH ROW EXECUTE FUNCTION notify_user_versions();
CREATE TRIGGER customization_truncated AFTER TRUNCATE ON user_customization
    FOR EACH STATEMENT EXECUTE FUNCTION notify_user_versions();
