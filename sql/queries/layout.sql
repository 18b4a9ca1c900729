-- name: config_versions
-- Every public rule version (reference data, cached per worker).
SELECT name, version FROM config_versions ORDER BY name
