"""Monitoring time series (``google.monitoring.v3.MetricService``): ListTimeSeries over
log-based metrics and written series (``engine``), CreateTimeSeries and the emulator's seed
(``service``, ``store``, ``rest``), the values both sides share (``model``)."""
