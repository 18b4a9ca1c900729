-- 0480: the person's language (privacy/i18n, docs/personalization.md "The person's language").
-- NULL: no stored choice, the request's Accept-Language decides. Part of the account row, so it
-- is exported with it and erased with it.
ALTER TABLE users ADD COLUMN language text
    CHECK (language IS NULL OR language IN ('en', 'fa', 'ar', 'ru'));
