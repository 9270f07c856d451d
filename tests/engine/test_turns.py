"""Turns on a shared line: commands go before waiting polls, and a cancelled waiter loses no turn."""

from __future__ import annotations

import asyncio

import pytest

from powerbus.turns import Priority, Turns

pytestmark = pytest.mark.hardware_free


async def settle() -> None:
    """Let every ready task run until it blocks."""
    for _ in range(10):
        await asyncio.sleep(0)


class Line:
    """Jobs that hold the turns until the test lets them go, and the order they got the line."""

    def __init__(self) -> None:
        """Start with no job."""
        self.turns = Turns()
        self.order: list[str] = []
        self._release: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, priority: Priority) -> asyncio.Task[None]:
        """Start job ``name``: it waits for its turn and holds it until :meth:`finish`."""
        self._release[name] = asyncio.Event()

        async def job() -> None:
            async with self.turns.hold(priority):
                self.order.append(name)
                await self._release[name].wait()

        task = asyncio.create_task(job(), name=name)
        self.tasks[name] = task
        return task

    def finish(self, name: str) -> None:
        """Let job ``name`` give the line back."""
        self._release[name].set()

    async def finish_all_in_turn(self) -> None:
        """Let every job run to its end, one after the other."""
        while not all(task.done() for task in self.tasks.values()):
            await settle()
            for name in list(self.order):
                self.finish(name)
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def test_a_command_waiting_behind_a_poll_goes_before_a_second_waiting_poll() -> None:
    """A write a user asked for waits at most for the poll that is running."""
    line = Line()
    line.start("poll a", Priority.POLL)
    await settle()
    line.start("poll b", Priority.POLL)
    await settle()
    line.start("command", Priority.COMMAND)
    await settle()
    assert line.order == ["poll a"]
    assert line.turns.waiting == 2
    await line.finish_all_in_turn()
    assert line.order == ["poll a", "command", "poll b"]


async def test_jobs_of_one_priority_go_in_order_of_arrival() -> None:
    """Polls (and commands) among themselves are first come, first served."""
    line = Line()
    for name in ("poll a", "poll b", "poll c"):
        line.start(name, Priority.POLL)
        await settle()
    for name in ("command a", "command b"):
        line.start(name, Priority.COMMAND)
        await settle()
    await line.finish_all_in_turn()
    assert line.order == ["poll a", "command a", "command b", "poll b", "poll c"]


async def test_only_one_job_holds_the_line_at_a_time() -> None:
    """Jobs never overlap, whatever their priorities."""
    turns = Turns()
    inside = 0
    most = 0

    async def job(priority: Priority) -> None:
        nonlocal inside, most
        async with turns.hold(priority):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(job(Priority(i % 2)) for i in range(20)))
    assert most == 1
    assert turns.waiting == 0


async def test_a_cancelled_waiter_does_not_lose_the_turn() -> None:
    """Cancelling a job that waits passes the line to the next one when it frees up."""
    line = Line()
    line.start("poll a", Priority.POLL)
    await settle()
    line.start("command", Priority.COMMAND)
    line.start("poll b", Priority.POLL)
    await settle()
    line.tasks["command"].cancel()
    await settle()
    assert line.tasks["command"].cancelled()
    assert line.turns.waiting == 1
    line.finish("poll a")
    await settle()
    assert line.order == ["poll a", "poll b"]
    line.finish("poll b")
    await settle()
    # The line is free again: a new job gets it at once.
    line.start("poll c", Priority.POLL)
    await settle()
    assert line.order == ["poll a", "poll b", "poll c"]
    await line.finish_all_in_turn()


async def test_a_waiter_cancelled_just_as_it_is_granted_the_turn_passes_it_on() -> None:
    """The turn granted to a job that is cancelled before it runs goes to the next job."""
    line = Line()
    line.start("poll a", Priority.POLL)
    await settle()
    line.start("command", Priority.COMMAND)
    line.start("poll b", Priority.POLL)
    await settle()
    line.finish("poll a")
    await asyncio.sleep(0)  # poll a gives the line to the command, which has not run yet
    line.tasks["command"].cancel()
    await settle()
    assert line.tasks["command"].cancelled()
    assert line.order == ["poll a", "poll b"]
    await line.finish_all_in_turn()


async def test_a_waiter_cancelled_while_the_holder_releases_still_ends_cleanly() -> None:
    """A job cancelled in the same step as the line frees up is cancelled, and the line moves on.

    The holder's release may skip the cancelled job before that job has run its own
    clean-up; the clean-up must not fail on the job it no longer finds waiting.
    """
    turns = Turns()
    order: list[str] = []
    waiter_ready = asyncio.Event()

    async def waiter(name: str) -> None:
        async with turns.hold(Priority.COMMAND):
            order.append(name)

    async def holder() -> None:
        async with turns.hold(Priority.POLL):
            order.append("holder")
            await waiter_ready.wait()
            first.cancel()  # cancelled, and in the same step the line frees up

    holding = asyncio.create_task(holder())
    await settle()
    first = asyncio.create_task(waiter("first"))
    second = asyncio.create_task(waiter("second"))
    await settle()
    waiter_ready.set()
    results = await asyncio.gather(holding, first, second, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert order == ["holder", "second"]
    assert turns.waiting == 0
