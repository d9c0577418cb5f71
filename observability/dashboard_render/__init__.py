"""Dashboard previews: a Cloud Monitoring dashboard drawn from live data as HTML and PNG.

``composer-obs dashboard render DASHBOARD.json`` and :func:`render_dashboard` read the
dashboard's own JSON (the file provisioning applies), fetch every widget's data through the
Google clients (from the emulator or a real project), and draw the tiles where the layout puts
them, so a dashboard can be reviewed before it is applied and shown in the demo's report.
"""

from observability.dashboard_render.errors import RenderError
from observability.dashboard_render.render import RenderResult, TileReport, render_dashboard

__all__ = ["RenderError", "RenderResult", "TileReport", "render_dashboard"]
