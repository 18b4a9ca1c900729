-- 0060: per-user segment membership, so analysts can break down by segment without evaluating
-- segment rules per query (DESIGN §6). Written only by resolvers/segment_members.py, which
-- evaluates each live segment's current version with the evaluator offers use
-- (resolvers.offer_rules.segment_match) for users whose consent allows the inference; hidden
-- inferences ('segment:<id>') are never stored. user_id leads the key: erasure finds the table
-- through its user_id column and the cascade removes the rows with the account.
CREATE TABLE segment_members (
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    segment_id bigint NOT NULL REFERENCES segments ON DELETE CASCADE,
    version    int    NOT NULL,
    PRIMARY KEY (user_id, segment_id)
);

-- dp_user_keys, new version: adds SEGMENT. Keys are the live segments (not archived) whose
-- stored membership is of the segment's current version, at most p_max_groups per user (lowest
-- ids first: a choice that depends on no other user), so a SEGMENT group-by has L1
-- sensitivity p_max_groups like CATEGORY and FEATURE (privacy/PROOFS.md, "Segments").
CREATE OR REPLACE FUNCTION dp_user_keys(
    p_user_id bigint, p_dimension text, p_country text, p_platform text, p_experience text,
    p_price_tier text, p_categories text[], p_max_groups int)
RETURNS TABLE (key text)
LANGUAGE sql STABLE AS $$
SELECT p_country WHERE p_dimension = 'COUNTRY'
UNION ALL SELECT p_platform WHERE p_dimension = 'PLATFORM'
UNION ALL SELECT p_experience WHERE p_dimension = 'EXPERIENCE'
UNION ALL SELECT p_price_tier WHERE p_dimension = 'PRICE_TIER'
UNION ALL (SELECT c.category FROM user_category_stats c
           WHERE p_dimension = 'CATEGORY' AND c.user_id = p_user_id AND c.purchases > 0
             AND c.category = ANY (p_categories)
           ORDER BY c.spend_cents DESC, c.category LIMIT p_max_groups)
UNION ALL (SELECT f.key FROM user_signals s CROSS JOIN LATERAL jsonb_each_text(s.feature_counts) f
           WHERE p_dimension = 'FEATURE' AND s.user_id = p_user_id AND f.value::numeric > 0
           ORDER BY f.value::numeric DESC, f.key LIMIT p_max_groups)
UNION ALL (SELECT m.segment_id::text FROM segment_members m
           JOIN segments g ON g.segment_id = m.segment_id AND NOT g.archived
                          AND g.current_version = m.version
           WHERE p_dimension = 'SEGMENT' AND m.user_id = p_user_id
           ORDER BY m.segment_id LIMIT p_max_groups)
$$;
