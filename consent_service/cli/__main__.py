"""``python -m consent_service.cli``: the `consent-service` command."""

import sys

from consent_service.cli import main

sys.exit(main())
