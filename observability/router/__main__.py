"""``python -m observability.router serve|check-config``: the router without the umbrella CLI."""

from observability.router.cli import router_app

router_app(prog_name="python -m observability.router")
