-- name: active_offers
-- The marketer's live offers (public configuration).
SELECT offer_id, name, kind, segment_id, item_id, discount_pct, surface, channel, params,
       cap_per_window, cap_window_hours, priority, active
FROM offers WHERE active ORDER BY offer_id

-- name: insert_offer
-- A new offer.
INSERT INTO offers (name, kind, segment_id, item_id, discount_pct, surface, channel, params,
                    cap_per_window, cap_window_hours, priority, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING offer_id, name, kind, segment_id, item_id, discount_pct, surface, channel, params,
          cap_per_window, cap_window_hours, priority, active

-- name: update_offer
-- Replace an offer's definition.
UPDATE offers SET name = $2, kind = $3, segment_id = $4, item_id = $5, discount_pct = $6, surface = $7,
                  channel = $8, params = $9, cap_per_window = $10, cap_window_hours = $11, priority = $12,
                  active = $13
WHERE offer_id = $1
RETURNING offer_id, name, kind, segment_id, item_id, discount_pct, surface, channel, params,
          cap_per_window, cap_window_hours, priority, active

-- name: lock_user_offer_caps
-- Serialize cap checks for one user across workers and devices until the transaction ends.
SELECT pg_advisory_xact_lock(7301, hashtext($1::bigint::text))

-- name: record_impression_within_caps
-- Record one impression only if neither the offer's cap nor the user's cap is reached (strictest wins).
INSERT INTO impressions (user_id, offer_id, device_id, channel)
SELECT $1, $2, $3, $4
WHERE ($5::int IS NULL OR (SELECT count(*) FROM impressions
                           WHERE user_id = $1 AND offer_id = $2
                             AND shown_at > now() - make_interval(hours => $6::int)) < $5::int)
  AND (SELECT count(*) FROM impressions
       WHERE user_id = $1 AND shown_at > now() - make_interval(hours => $8::int)) < $7::int
RETURNING impression_id
