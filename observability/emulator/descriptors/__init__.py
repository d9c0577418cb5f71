"""Metric and monitored-resource descriptors: Google's built-ins and the user-defined ones.

``catalogue.json`` is data regenerated from a published list by ``regenerate.py`` (its header
says from where and when); ``catalogue.py`` loads it; ``rules.py`` holds Google's rules for
descriptors (CreateMetricDescriptor's validation, which aligner fits which kind);
``store.py`` keeps user-defined descriptors in SQLite; ``service.py`` answers the descriptor
methods of MetricService over all of them; ``grpc.py`` is their gRPC edge.
"""
