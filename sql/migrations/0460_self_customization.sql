-- 0460: the person's own customization of the app, and key dates without a year.
--
-- 1. user_customization: what the person chose for themself (theme, accent colour from the
--    published palette, font scale, density, a layout choice that overrides the experience tag,
--    pinned and hidden sections). One row per person, `version` moves with every change (never
--    back, so a reset is a new version too) and is part of the layout ETag (state_versions).
--    The API validates every value against the published options (resolvers/customization/);
--    the checks here only bound their shape. user_id leads the key: erase_user finds the table.
CREATE TABLE user_customization (
    user_id    bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    version    integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    theme      text NOT NULL DEFAULT 'system' CHECK (theme IN ('light', 'dark', 'system')),
    accent     text CHECK (accent ~ '^[a-z][a-z0-9_]{0,30}$'),
    font_scale numeric(3, 2) NOT NULL DEFAULT 1.00 CHECK (font_scale BETWEEN 0.5 AND 3),
    density    text NOT NULL DEFAULT 'comfortable' CHECK (density IN ('compact', 'comfortable', 'spacious')),
    layout     text CHECK (layout IN ('simple', 'full')),
    pinned     text[] NOT NULL DEFAULT '{}'
               CHECK (cardinality(pinned) <= 20 AND array_to_string(pinned, ',') ~ '^[a-z0-9_,]*$'),
    hidden     text[] NOT NULL DEFAULT '{}'
               CHECK (cardinality(hidden) <= 20 AND array_to_string(hidden, ',') ~ '^[a-z0-9_,]*$'),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- 2. Key dates are profile fields (privacy/profile_fields.py) holding day and month only: the
--    year of a birthday is never stored, whatever writes the row.
ALTER TABLE profile_fields ADD CONSTRAINT profile_fields_key_dates_without_year
    CHECK (field NOT IN ('birthday', 'anniversary', 'name_day')
           OR value ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$');
