"""GraphQL types and the per-user decisions. Decision code is pure; resolvers load inputs
through the privacy guard and render."""

# The vocabulary's enums are registered in GraphQL before any type annotation can name them.
from resolvers.common import enums as _enums  # noqa: F401
