"""Alert evaluation: conditions judged over time series (``conditions``), incidents opened and
closed (``evaluator``, ``incidents``), notifications delivered to channels (``notifier``,
``payload``); ``rest`` is the emulator's admin endpoint that runs one evaluation."""
