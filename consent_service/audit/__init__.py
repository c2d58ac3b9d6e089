"""The hash-chained, append-only audit log: the chain every domain writes to (recorder,
chain, catalogue, checkpoints, witnessing, purge, verification). It sits below the domains
and imports none of them; the DPO's use cases on the log are ``oversight``."""
