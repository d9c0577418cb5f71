"""The one error a render raises: what is wrong, naming the file (and line) where it is."""

from __future__ import annotations


class RenderError(Exception):
    """A dashboard that cannot be rendered, or data that cannot be reached; one line."""
