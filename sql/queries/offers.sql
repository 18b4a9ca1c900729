-- name: active_offers
-- The marketer's live offers (public configuration).
SELECT offer_id, name, kind, segment_id, item_id, discount_pct, surface, channel::text AS channel, params,
       cap_per_window, cap_window_hours, priority, active
FROM offers WHERE active ORDER BY offer_id

-- name: insert_offer
-- A new offer.
INSERT INTO offers (name, kind, segment_id, item_id, discount_pct, surface, channel, params,
                    cap_per_window, cap_window_hours, priority, active, created_by)
VALUES (%(name)s, %(kind)s, %(segment_id)s, %(item_id)s, %(discount_pct)s, %(surface)s, %(channel)s,
        %(params)s, %(cap_per_window)s, %(cap_window_hours)s, %(priority)s, %(active)s, %(created_by)s)
RETURNING offer_id, name, kind, segment_id, item_id, discount_pct, surface, channel::text AS channel,
          params, cap_per_window, cap_window_hours, priority, active

-- name: update_offer
-- Replace an offer's definition.
UPDATE offers SET name = %(name)s, kind = %(kind)s, segment_id = %(segment_id)s, item_id = %(item_id)s,
                  discount_pct = %(discount_pct)s, surface = %(surface)s, channel = %(channel)s,
                  params = %(params)s, cap_per_window = %(cap_per_window)s,
                  cap_window_hours = %(cap_window_hours)s, priority = %(priority)s, active = %(active)s
WHERE offer_id = %(offer_id)s
RETURNING offer_id, name, kind, segment_id, item_id, discount_pct, surface, channel::text AS channel,
          params, cap_per_window, cap_window_hours, priority, active

-- name: serve_offers
-- Record impressions for the qualifying offers (in order) within their caps and the user's, and
-- audit the write, in one statement (serve_offers, migration 0070); the ids served.
SELECT offer_id FROM serve_offers(
    %(a_request_id)s, %(a_role)s, %(a_principal)s, %(a_subject)s, %(a_purpose)s, %(a_tables)s::text[],
    %(offers)s::bigint[], %(caps)s::int[], %(windows)s::int[], %(channels)s::text[], %(device)s,
    %(user_cap)s, %(user_window_hours)s, %(max)s)
