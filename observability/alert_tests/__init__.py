"""``composer-obs test-alerts``: unit tests for alert policies and routing, like
``promtool test rules`` for Cloud Monitoring policies plus the router.

A YAML test file gives a timeline of events, the policies and router configuration under test,
and what must happen: which incidents open and close when, which receivers are told what.
The real emulator and router run in-process on a virtual clock (``runner``); ``verdict``
compares what happened with what was expected and ``report`` prints it.
"""
