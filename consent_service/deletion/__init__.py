"""Deleting personal data across the domains: a citizen at the end of their course or of
the pilot, withdrawn questionnaire answers, ended sessions; the ledger of what was
deleted, re-applied after a restore. Above the domains it deletes from; the retention
schedule (``retention.schedule``) says when."""
