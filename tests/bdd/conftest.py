"""BDD fixtures: a fresh world per scenario, and every step module."""

from __future__ import annotations

import pytest

from tests.bdd.steps.common import World
from tests.bdd.steps.consent_steps import *  # noqa: F403
from tests.bdd.steps.course_steps import *  # noqa: F403
from tests.bdd.steps.cpr_steps import *  # noqa: F403
from tests.bdd.steps.disclosure_steps import *  # noqa: F403
from tests.bdd.steps.erasure_steps import *  # noqa: F403
from tests.bdd.steps.evidence_steps import *  # noqa: F403
from tests.bdd.steps.extract_steps import *  # noqa: F403
from tests.bdd.steps.measurement_steps import *  # noqa: F403
from tests.bdd.steps.paper_steps import *  # noqa: F403
from tests.bdd.steps.referral_steps import *  # noqa: F403
from tests.bdd.steps.request_steps import *  # noqa: F403
from tests.bdd.steps.rulebook_steps import *  # noqa: F403
from tests.bdd.steps.scan_steps import *  # noqa: F403
from tests.bdd.steps.schedule_steps import *  # noqa: F403


@pytest.fixture
def world() -> World:
    return World()
