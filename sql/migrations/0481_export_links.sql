-- 0481: short-lived links to a person's complete export (privacy/export.py, docs/privacy.md).
-- Only a hash of the link's secret is kept; a link expires minutes after it was made. The table
-- names user_id, so erasure (erase_user, driven by the catalog) deletes a person's links too.
CREATE TABLE export_links (
    token_hash  bytea PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX export_links_user ON export_links (user_id);
