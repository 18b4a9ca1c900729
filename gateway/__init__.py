"""The door: app factory, settings, auth, the GraphQL view, limits, health and the CLI."""

from gateway.app import create_app
from gateway.settings import Settings

__all__ = ["Settings", "create_app"]
