"""Time limits of the plugin tests, in a module of its own: test modules import them at
run time, and ``from conftest import`` could find another directory's conftest."""

#: Seconds an inner pytest run in a subprocess may take on a busy 2-core machine.
SUBPROCESS_TIMEOUT = 240.0
STD_WAIT = 10.0
