"""The offline demo: ``python -m examples.demo`` (``make demo``)."""
