"""The scheduler process: `python -m jobs`. It only loops, opens an app context and calls journal.scheduled."""
