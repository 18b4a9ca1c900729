-- 0015: indexes the personalization hot paths need.
-- The per-user frequency cap counts a user's impressions over all offers in a time window;
-- impressions_user_offer_time (user_id, offer_id, shown_at) cannot range-scan shown_at for that.
CREATE INDEX impressions_user_time ON impressions (user_id, shown_at);
-- Offer targeting reads only live offers, in priority order.
CREATE INDEX offers_active ON offers (priority DESC, offer_id) WHERE active;
