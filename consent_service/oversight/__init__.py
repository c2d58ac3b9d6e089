"""The DPO's oversight over the domains: the audit log's review, export and alerts, the
access report of a citizen, the witnesses' state; on top of the audit chain and the
domains it reviews."""
