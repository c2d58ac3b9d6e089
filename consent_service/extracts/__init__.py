"""Register-data extracts for payment measurement: request, four-eyes approval,
consent-gated execution, signed manifest, coverage plan."""
