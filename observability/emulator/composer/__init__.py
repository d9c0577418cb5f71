"""Cloud Composer environments (``environments.get``/``list`` over REST): what the router and
the watchdog read, declared through the emulator's admin endpoint."""
