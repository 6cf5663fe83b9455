"""hil: a multiprocess hardware-in-the-loop test harness for lab instruments."""
