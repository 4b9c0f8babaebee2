"""While keygate serves, the garbage collector is tuned for serving (README, Performance: it
was the largest cost of a bearer request); once it stops, the process has its own settings
back, as a process that embeds keygate (these tests do) expects."""

import gc

import pytest

from app.ops.garbage_collection import YOUNG_GENERATION_THRESHOLD
from tests.conftest import make_settings, running_app

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")


async def test_serving_tunes_the_collector_and_stopping_gives_the_settings_back(database):
    before = gc.get_threshold()
    gc.unfreeze()  # the session's own app froze what existed when it started

    async with running_app(make_settings()):
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
        assert gc.get_freeze_count() > 0  # what start-up allocated is never walked again

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
