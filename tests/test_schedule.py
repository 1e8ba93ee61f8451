"""The schedule: the interval job, and the job run once at the start; stopping waits for both and raises nothing."""

from __future__ import annotations

import threading

from feedsvc.runtime.schedule import start_scheduler


def test_a_stop_waits_for_the_job_run_once_at_the_start() -> None:
    """`stop()` returns only once the first refresh's cache write (the `soon` job) has ended."""
    started, release, done = threading.Event(), threading.Event(), threading.Event()

    def soon() -> None:
        started.set()
        release.wait(10)
        done.set()

    schedule = start_scheduler(lambda: None, every=3600, soon=soon)
    assert started.wait(10)
    stopper = threading.Thread(target=schedule.stop)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive()  # still waiting for `soon`
    release.set()
    stopper.join(10)
    assert not stopper.is_alive()
    assert done.is_set()


def test_starting_and_stopping_at_once_raises_in_no_thread() -> None:
    """A stop that comes while the `soon` job ends (a service stopped right after its start) leaves no error.

    As a one-off job of the scheduler, the scheduler's thread could fail to remove it after it
    ran, the stop having emptied the job store meanwhile; pytest fails a test whose threads raise.
    """
    runs: list[int] = []
    for number in range(50):
        schedule = start_scheduler(lambda: None, every=3600, soon=lambda n=number: runs.append(n))
        schedule.stop()
    assert sorted(runs) == list(range(50))
