"""The retention schedule (``retention/schedule.yaml``): how long each kind of personal
data is kept and how it is deleted. The rule file alone; the deletions that carry it out
are ``deletion``."""
