-- Used by the benchmark only when `gateway seed` is not available: plain accounts 1..$1.
INSERT INTO users (user_id, country, platform) SELECT g, 'DE', 'web' FROM generate_series(1, $1::bigint) AS g ON CONFLICT DO NOTHING
