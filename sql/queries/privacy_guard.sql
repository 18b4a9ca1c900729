-- name: log_operation
-- One operation's audit entries and decision records, in one round trip (see migration 0050).
SELECT log_operation($1, $2, $3, $4, $5::bigint[], $6::text[], $7::text[], $8::text[],
                     $9, $10::uuid[], $11::text[], $12::text[], $13::text[], $14::int[], $15::text[],
                     $16::jsonb[], $17::text[], $18::timestamptz[])
