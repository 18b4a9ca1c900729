-- name: config_versions
-- Every public rule version (reference data, cached per worker).
SELECT name, version FROM config_versions ORDER BY name

-- name: insert_layout_rule_set
-- Save a new layout rule set and move the layout rule version with it, in one statement.
WITH v AS (
    UPDATE config_versions SET version = version + 1, updated_at = now() WHERE name = 'layout'
    RETURNING version
)
INSERT INTO layout_rule_sets (rules, layout_version, created_by)
SELECT $1, v.version, $2 FROM v
RETURNING version, rules, layout_version, created_by, created_at

-- name: current_layout_rules
-- The layout rule version now and the newest rule set (none before the first save).
SELECT cv.version AS layout_version, r.version, r.rules, r.layout_version AS set_layout_version,
       r.created_by, r.created_at
FROM config_versions cv
LEFT JOIN LATERAL (SELECT * FROM layout_rule_sets ORDER BY layout_version DESC LIMIT 1) r ON true
WHERE cv.name = 'layout'

-- name: layout_rules_at
-- The rule set in effect at layout rule version $1.
SELECT version, rules, layout_version, created_by, created_at FROM layout_rule_sets
WHERE layout_version <= $1 ORDER BY layout_version DESC LIMIT 1
