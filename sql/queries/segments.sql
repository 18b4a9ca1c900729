-- name: insert_segment
-- A new segment at version 1; nothing when the name is taken.
INSERT INTO segments (name, description, created_by) VALUES ($1, $2, $3)
ON CONFLICT (name) DO NOTHING
RETURNING segment_id, name, description, current_version

-- name: insert_segment_version
-- One immutable version of a segment's rule.
INSERT INTO segment_versions (segment_id, version, rule, created_by) VALUES ($1, $2, $3, $4)

-- name: bump_segment_version
-- Next version of a segment (its row is locked until the transaction ends).
UPDATE segments SET current_version = current_version + 1, description = coalesce($2, description)
WHERE segment_id = $1 AND NOT archived
RETURNING segment_id, name, description, current_version

-- name: current_segments
-- Every live segment at its current version (public marketer configuration).
SELECT s.segment_id, s.name, s.description, s.current_version, v.rule
FROM segments s
JOIN segment_versions v ON v.segment_id = s.segment_id AND v.version = s.current_version
WHERE NOT s.archived
ORDER BY s.segment_id

-- name: segment_by_id
-- One live segment at its current version.
SELECT s.segment_id, s.name, s.description, s.current_version, v.rule
FROM segments s
JOIN segment_versions v ON v.segment_id = s.segment_id AND v.version = s.current_version
WHERE s.segment_id = $1 AND NOT s.archived
