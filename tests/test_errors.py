"""Recoverable data problems: warnings, or collected per thread inside the service's jobs."""

from __future__ import annotations

import threading

import pytest

from geo.errors import collect_data_warnings, warn_data
from geo.road import RoadNetworkWarning


def test_a_data_warning_is_a_warning_outside_a_collector() -> None:
    with pytest.warns(RoadNetworkWarning, match="hors route"):
        warn_data("2 points hors route", RoadNetworkWarning)


def test_a_collector_keeps_the_messages_instead() -> None:
    # warnings are errors in this suite: a warning escaping the collector would fail the test
    with collect_data_warnings() as caught:
        warn_data("premier")
        with collect_data_warnings() as inner:
            warn_data("intérieur")
        warn_data("second")
    assert caught == ["premier", "second"]
    assert inner == ["intérieur"]


def test_collectors_of_concurrent_threads_do_not_mix() -> None:
    workers, rounds = 8, 200
    barrier = threading.Barrier(workers)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            barrier.wait()  # every thread enters and leaves its collector while others run
            with collect_data_warnings() as caught:
                for i in range(rounds):
                    warn_data(f"{k}:{i}", RoadNetworkWarning)
            results[k] = caught
        except BaseException as exc:  # a warning raised as an error would land here
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == {k: [f"{k}:{i}" for i in range(rounds)] for k in range(workers)}
