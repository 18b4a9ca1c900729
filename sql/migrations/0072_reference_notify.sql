-- 0072: reference data changes are announced, so every worker's cache drops the changed kind on
-- the next request (resolvers/model/reference.py listens on gateway_reference). Statement-level
-- triggers: one notification per statement, delivered when the transaction commits.

CREATE FUNCTION notify_reference() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gateway_reference', TG_ARGV[0]);
    RETURN NULL;
END $$;

CREATE TRIGGER items_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON items
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('catalog');
CREATE TRIGGER item_relations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON item_relations
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('catalog');
CREATE TRIGGER offers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON offers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('offers');
CREATE TRIGGER segments_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON segments
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('segments');
CREATE TRIGGER segment_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON segment_versions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('segments');
CREATE TRIGGER config_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON config_versions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('config_versions');
