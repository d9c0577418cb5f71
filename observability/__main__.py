"""``python -m observability`` is ``composer-obs``."""

from observability.cli import app

app()
