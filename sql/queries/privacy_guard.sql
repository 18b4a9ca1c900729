-- name: insert_audit_entries
-- Append one operation's reads to the audit log in a single statement. Entries naming a user
-- whose account is gone (erased while this operation ran) are dropped; FOR KEY SHARE waits for
-- a concurrent erasure (which locks the account row first), so none can outlive it. $8: the
-- reader's own user id (role user), whose entries name them as well.
INSERT INTO audit_log (request_id, principal_role, principal_id, subject_user_id, purpose, table_name, action)
SELECT $1, $2, $3, s, p, t, a
FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[]) AS x(s, p, t, a)
WHERE (s IS NULL OR EXISTS (SELECT 1 FROM users u WHERE u.user_id = s FOR KEY SHARE))
  AND ($8::bigint IS NULL OR EXISTS (SELECT 1 FROM users u WHERE u.user_id = $8 FOR KEY SHARE))

-- name: insert_decisions
-- Append one operation's decision records to the decision log in a single statement.
INSERT INTO decisions (user_id, decision_id, surface, subject_kind, subject_id, rank, mode, record,
                       consent_snapshot_id, generated_at)
SELECT $1, d, s, k, i, r, m, rec, c, g
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::jsonb[],
            $9::text[], $10::timestamptz[]) AS x(d, s, k, i, r, m, rec, c, g)
-- not for an account erased while the operation ran (see insert_audit_entries)
WHERE EXISTS (SELECT 1 FROM users u WHERE u.user_id = $1 FOR KEY SHARE)
