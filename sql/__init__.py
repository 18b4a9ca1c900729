"""The data layer: numbered migrations, named queries loaded from .sql files, the pool.

Nothing here builds SQL from strings: every statement is a static text in a .sql file.
"""

from sql.migrate import MIGRATIONS_DIR, expected_version, migrate, schema_version
from sql.pool import create_pool
from sql.queries import Queries, load_queries

__all__ = [
    "MIGRATIONS_DIR",
    "Queries",
    "create_pool",
    "expected_version",
    "load_queries",
    "migrate",
    "schema_version",
]
