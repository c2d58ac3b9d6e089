"""Scheduled work as data: the jobs table, the planner that keeps it in step with each
citizen, and the navigator's worklist. The worker that runs due jobs is ``worker.runner``."""
