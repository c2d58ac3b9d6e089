"""The policy engine over policies/access.yaml: deny unless the policy allows."""
