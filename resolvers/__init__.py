"""GraphQL types and the per-user decisions. Decision code is pure; resolvers load inputs
through the privacy guard and render."""
