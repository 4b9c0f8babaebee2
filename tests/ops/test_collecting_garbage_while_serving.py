"""A process that serves keygate has its garbage collector tuned for serving (README,
Performance: it was the largest cost of a bearer request): what start-up allocated is frozen
and young collections are rarer. It is the process's setting, applied once, so it holds after
an app stops and needs no undoing."""

import gc

import pytest

from app.ops.garbage_collection import YOUNG_GENERATION_THRESHOLD, tune_for_serving
from tests.conftest import make_settings, running_app

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")


async def test_a_serving_process_has_its_collector_tuned_and_keeps_it(database):
    async with running_app(make_settings()):
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
        assert gc.get_freeze_count() > 0  # what start-up allocated is never walked again

    assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD


def test_tuning_is_applied_once_so_later_allocations_are_not_frozen():
    tune_for_serving()
    frozen = gc.get_freeze_count()
    later = [object() for _ in range(1000)]

    tune_for_serving()

    assert gc.get_freeze_count() == frozen
    assert later
