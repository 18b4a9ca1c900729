-- 0401: layout rules per tag combination as data (issue 13, item 0). Each save is a new immutable
-- rule set; saving moves the layout rule version (config_versions 'layout') in the same statement
-- and records it, so a layout ETag names exactly one rule set: the newest whose layout_version is
-- at most the ETag's version.
CREATE TABLE layout_rule_sets (
    version        serial PRIMARY KEY,
    rules          jsonb NOT NULL,
    layout_version integer NOT NULL UNIQUE,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER layout_rule_sets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON layout_rule_sets
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('layout_rules');
-- The cached current rule set carries the layout rule version it was read at: any move of that
-- version (experiments move it too) drops it in every worker.
CREATE TRIGGER config_versions_layout_rules AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON config_versions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference('layout_rules');
