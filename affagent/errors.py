"""Exceptions with messages meant for people: the CLI prints ``str(exc)`` on one line."""

from __future__ import annotations


class AffagentError(Exception):
    """Base class for every error affagent raises on purpose."""


class ConfigError(AffagentError, ValueError):
    """A configuration value, persona file, strategy file or CLI argument is invalid."""


class DataFormatError(AffagentError, ValueError):
    """A data file does not have the expected format (names the file and expected columns)."""


class BackendError(AffagentError, RuntimeError):
    """The LLM backend failed (down, timed out, or broke mid-stream). The turn was not stored."""


class SessionNotFound(AffagentError, LookupError):
    """No session with that id (in this tenant)."""


class ConcurrentTurnError(AffagentError, RuntimeError):
    """Another turn on the same session committed first (optimistic version check)."""


class InputError(AffagentError, ValueError):
    """The user's message was rejected (empty, too long, invalid characters)."""
