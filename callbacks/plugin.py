"""The Airflow plugin that installs ``callbacks.listener`` for a whole environment.

Put one line in a file of the environment's ``plugins/`` folder:

    from callbacks.plugin import ComposerObservabilityPlugin  # noqa: F401

It is opt-in (no entry point), since installing the package on workers must not change what
every DAG emits behind its authors' backs.
"""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from callbacks import listener


class ComposerObservabilityPlugin(AirflowPlugin):
    name = "composer_observability"
    listeners: ClassVar[list[ModuleType]] = [listener]
