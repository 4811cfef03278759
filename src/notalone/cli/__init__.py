"""The `notalone` command line: the only place that prints."""
