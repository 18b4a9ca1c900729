"""How the schema lays out on a distributed PostgreSQL (Citus), declared once and checked against
the catalog by tests/test_citus_layout.py; `python -m sql.citus` prints the statements that apply
it on a Citus coordinator after `gateway migrate` (docs/scaling.md).

- DISTRIBUTED: the person's rows, sharded by their id and colocated with `users`, so every
  statement about one person runs on one worker. Each primary key and unique constraint includes
  the distribution column (Citus enforces them per shard).
- REFERENCE: catalog and configuration, small and read by every shard's joins: copied to every node.
- LOCAL: the coordinator's own bookkeeping (migrations, the job queue, partition maintenance),
  never joined with a person's rows.

Every table of the schema is in exactly one of the three; a new table must be placed here or the
catalog test fails."""

from __future__ import annotations

import sys

# table -> distribution column
DISTRIBUTED: dict[str, str] = {
    "users": "user_id",
    "consents": "user_id",
    "consent_events": "user_id",
    "user_channels": "user_id",
    "user_controls": "user_id",
    "profile_fields": "user_id",
    "events": "user_id",
    "decisions": "user_id",
    "impressions": "user_id",
    "outbox": "user_id",
    "segment_members": "user_id",
    "user_signals": "user_id",
    "user_spend_days": "user_id",
    "user_purchases": "user_id",
    "user_cart": "user_id",
    "user_features": "user_id",
    "user_searches": "user_id",
    "user_category_stats": "user_id",
    "user_customization": "user_id",
    "experiment_exposures": "user_id",
    "export_links": "user_id",
    # Who read or wrote a person's data: kept with that person (0: an entry about no one).
    "audit_log": "subject_user_id",
}

REFERENCE: frozenset[str] = frozenset(
    {
        # The catalog and the marketers' configuration.
        "items",
        "item_relations",
        "offers",
        "segments",
        "segment_versions",
        "config_versions",
        "sensitive_categories",
        "sensitive_terms",
        # The DP ledger: budgets and answers are per analyst and dataset, never per person; their
        # row locks (a charge) are on these small tables, which Citus locks on every node.
        "analysts",
        "dataset_budgets",
        "dataset_versions",
        "privacy_budgets",
        "privacy_events",
        "dp_answers",
        "dp_answer_receipts",
        "erasure_log",
        # Trained models (coefficients and model cards, no person's row) and which one serves:
        # read by every worker's scoring, written by the training job.
        # Experiments and layout rule sets: marketers' configuration.
        "experiments",
        "experiment_versions",
        "layout_rule_sets",
        "models",
        "model_active",
        "model_activations",
    }
)

LOCAL: frozenset[str] = frozenset(
    {
        "schema_migrations",
        "pgqueuer",
        "pgqueuer_log",
        "pgqueuer_schedules",
        "pgqueuer_statistics",
        "time_partitioned_tables",
        "time_partitions",
    }
)

# Statements that lock rows of several people at once (a batch), by where they live: the catalog
# test fails on any other. On Citus each one runs as a multi-shard statement from the
# coordinator; docs/scaling.md says what they cost there and what would make them per person.
MULTI_USER_LOCKS: dict[str, str] = {
    "query ingest_events": "an app's event batch takes KEY SHARE on each of its users' accounts "
    "(an erasure racing the batch waits or wins), then apply_rollups upserts their rows",
    "query outbox_queue": "a job's messages for many people take KEY SHARE on their accounts",
    "query outbox_claim_candidates": "a delivery worker claims due messages of many people (SKIP LOCKED)",
    "query outbox_lock_people": "a delivery worker locks the accounts of the messages it claimed "
    "(NO KEY UPDATE SKIP LOCKED, in id order)",
    "query replace_segment_members": "a segment refresh writes many people's memberships, each "
    "under KEY SHARE on its own account",
}

# Referenced first: Citus needs a foreign key's target distributed (or reference) before its source.
_FIRST = ("users",)


def statements() -> list[str]:
    """The Citus calls that lay the migrated schema out (run once, on the coordinator)."""
    out = [f"SELECT create_reference_table('{t}');" for t in sorted(REFERENCE)]
    order = [*_FIRST, *sorted(t for t in DISTRIBUTED if t not in _FIRST)]
    for table in order:
        colocate = "default" if table == "users" else "users"
        column = DISTRIBUTED[table]
        out.append(f"SELECT create_distributed_table('{table}', '{column}', colocate_with => '{colocate}');")
    out += [f"SELECT citus_add_local_table_to_metadata('{t}');" for t in sorted(LOCAL)]
    return out


if __name__ == "__main__":
    sys.stdout.write("\n".join(statements()) + "\n")
