"""Scheduled work: the jobs table, the planner, the worker, and the navigator's worklist."""
