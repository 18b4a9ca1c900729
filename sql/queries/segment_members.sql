-- name: replace_segment_members
-- Membership of users $1 in segments $2 becomes exactly the (user $3, segment $4, version $5) rows; counts of rows removed and written.
WITH fresh AS (
    SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::int[]) AS n(user_id, segment_id, version)
), gone AS (
    DELETE FROM segment_members m
    WHERE m.user_id = ANY ($1::bigint[]) AND m.segment_id = ANY ($2::bigint[])
      AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.user_id = m.user_id AND f.segment_id = m.segment_id)
    RETURNING 1
), put AS (
    INSERT INTO segment_members (user_id, segment_id, version)
    SELECT f.user_id, f.segment_id, f.version FROM fresh f
    -- An account erased while the batch ran is skipped (the lock waits for a running erasure).
    WHERE EXISTS (SELECT 1 FROM users u WHERE u.user_id = f.user_id FOR KEY SHARE)
    ON CONFLICT (user_id, segment_id) DO UPDATE SET version = EXCLUDED.version
    WHERE segment_members.version <> EXCLUDED.version
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS removed, (SELECT count(*) FROM put) AS written

-- name: prune_segment_members
-- Rows of archived segments: a full refresh leaves no membership of a segment that is gone.
WITH gone AS (
    DELETE FROM segment_members m USING segments g
    WHERE g.segment_id = m.segment_id AND g.archived
    RETURNING 1
)
SELECT count(*) AS removed FROM gone

-- name: live_segment_keys
-- The public key set of the SEGMENT dimension: ids of live (not archived) segments.
SELECT segment_id::text AS key FROM segments WHERE NOT archived ORDER BY segment_id

-- name: export_segment_members
-- The user's stored segment memberships, with the segment's name (their data export).
SELECT m.segment_id, g.name AS segment, m.version
FROM segment_members m JOIN segments g ON g.segment_id = m.segment_id
WHERE m.user_id = $1 ORDER BY m.segment_id
