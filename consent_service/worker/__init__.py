"""The worker: runs due jobs and the housekeeping pass, the bodies of every domain's
scheduled work. On top of the domains, the deletions and the oversight it runs."""
