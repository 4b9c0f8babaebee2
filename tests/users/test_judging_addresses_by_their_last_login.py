"""Which lane an address's next login check runs on (app/users/address_verdicts.py): the
verdict of its last check, and for an address not seen before, the verdict of its first
check, which its other checks wait for. So a crowd opening with many concurrent failing logins
from new addresses gets one check each on the login threads."""

import asyncio

import pytest

from app.users.address_verdicts import AddressVerdicts
from app.users.fair_queue import QueueFull


async def settled() -> None:
    for _ in range(5):  # let every task reach its wait
        await asyncio.sleep(0)


async def test_the_checks_of_a_new_address_wait_for_its_first_verdict():
    verdicts = AddressVerdicts(max_waiting=4)
    assert await verdicts.last_failed("198.51.100.7") is False  # the first check, alone
    others = [asyncio.create_task(verdicts.last_failed("198.51.100.7")) for _ in range(3)]
    await settled()
    assert not any(task.done() for task in others)

    verdicts.settle("198.51.100.7", failed=True)

    assert await asyncio.gather(*others) == [True, True, True]


async def test_another_address_does_not_wait_for_a_new_ones_verdict():
    verdicts = AddressVerdicts(max_waiting=4)
    await verdicts.last_failed("198.51.100.7")
    verdicts.settle("203.0.113.9", failed=False)

    assert await asyncio.wait_for(verdicts.last_failed("203.0.113.9"), 1) is False


async def test_a_right_password_clears_an_address_that_failed():
    verdicts = AddressVerdicts(max_waiting=4)
    await verdicts.last_failed("198.51.100.7")
    verdicts.settle("198.51.100.7", failed=True)
    assert await verdicts.last_failed("198.51.100.7") is True
    verdicts.settle("198.51.100.7", failed=False)

    assert await verdicts.last_failed("198.51.100.7") is False


async def test_checks_past_the_share_of_a_new_address_are_refused():
    verdicts = AddressVerdicts(max_waiting=2)
    await verdicts.last_failed("198.51.100.7")
    waiting = [asyncio.create_task(verdicts.last_failed("198.51.100.7")) for _ in range(2)]
    await settled()

    with pytest.raises(QueueFull):
        await verdicts.last_failed("198.51.100.7")

    verdicts.settle("198.51.100.7", failed=False)
    assert await asyncio.gather(*waiting) == [False, False]


async def test_a_first_check_without_a_verdict_lets_one_waiting_check_go_first():
    verdicts = AddressVerdicts(max_waiting=4)
    await verdicts.last_failed("198.51.100.7")
    waiting = [asyncio.create_task(verdicts.last_failed("198.51.100.7")) for _ in range(2)]
    await settled()

    verdicts.settle("198.51.100.7", failed=None)  # refused or cancelled: no verdict
    await settled()

    assert sum(task.done() for task in waiting) == 1  # the new first check; the other waits
    verdicts.settle("198.51.100.7", failed=True)
    assert sorted(await asyncio.gather(*waiting)) == [False, True]
