"""A long schemathesis run of the whole API, and its figures (for the closing notes).

The same contract as ``tests/api/test_schemathesis.py`` (same services, checks and settings:
without a token, with a token sent, with a token configured but not sent) with many more
examples per operation. Failing cases are counted, not stopped at: the run goes through every
example and prints the operations tested, the cases generated, the checks run and the failures
by check, then exits 1 if any check failed.

Usage (from the repository root)::

    .venv/bin/python scripts/schemathesis_long.py              # 300 examples per operation
    .venv/bin/python scripts/schemathesis_long.py --examples 120 --json figures.json

The figures go to the standard output (and to ``--json``); it takes about 15 minutes with
300 examples on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

_EXAMPLES_ENV = "CARTOSOINS_SCHEMATHESIS_EXAMPLES"
_FIGURES_ENV = "CARTOSOINS_SCHEMATHESIS_FIGURES"
_MODES = ("sans jeton", "avec jeton", "anonyme (jeton configuré)")


# --------------------------------------------------------------------------------------------
# the tests, collected by pytest from this file (see main)
# --------------------------------------------------------------------------------------------
def _tests() -> dict[str, Any]:
    """Build the schemas and the test functions, with the examples asked for."""
    import schemathesis
    from fastapi.testclient import TestClient  # noqa: TID251 (the API under test, not geo/)
    from hypothesis import HealthCheck, settings
    from schemathesis.core.failures import Failure, FailureGroup

    from tests.api import test_schemathesis as short
    from tests.api.conftest import AUTH, TOKEN

    examples = int(os.environ.get(_EXAMPLES_ENV, "300"))
    root = Path(tempfile.mkdtemp(prefix="cartosoins-schemathesis-long-"))
    open_app = short.build_app(root / "open", token=None)
    secured_app = short.build_app(root / "secured", token=TOKEN)
    open_schema = schemathesis.openapi.from_asgi("/openapi.json", open_app, config=short.CONFIG)
    secured_schema = schemathesis.openapi.from_asgi(
        "/openapi.json", secured_app, config=short.CONFIG
    )
    short.small_territories(open_schema)
    short.small_territories(secured_schema)

    figures: dict[str, Any] = {
        "examples_per_operation": examples,
        "checks": list(short.CHECK_NAMES),
        "modes": {},
    }
    for mode in _MODES:
        figures["modes"][mode] = {
            "operations": set(),
            "cases": 0,
            "checks_run": 0,
            "failing_cases": 0,
            "failures_by_check": Counter(),
            "statuses": Counter(),
            "examples": [],
        }

    def record(mode: str, case: schemathesis.Case, headers: dict[str, str] | None) -> None:
        entry = figures["modes"][mode]
        entry["operations"].add(case.operation.label)
        entry["cases"] += 1
        entry["checks_run"] += len(short.CHECKS)
        try:
            response = case.call_and_validate(headers=headers, checks=short.CHECKS)
            entry["statuses"][response.status_code] += 1
        except FailureGroup as group:
            failures: list[Failure] = list(group.exceptions)
            entry["failing_cases"] += 1
            for failure in failures:
                for check in type(failure).checks or (failure.code,):
                    entry["failures_by_check"][check] += 1
                if len(entry["examples"]) < 20:
                    entry["examples"].append(f"{case.operation.label}: {failure.title}")
        except Failure as failure:
            entry["failing_cases"] += 1
            for check in type(failure).checks or (failure.code,):
                entry["failures_by_check"][check] += 1
            if len(entry["examples"]) < 20:
                entry["examples"].append(f"{case.operation.label}: {failure.title}")
        except Exception as exc:  # an exception of the app (a 500 in production)
            entry["failing_cases"] += 1
            entry["failures_by_check"]["not_a_server_error"] += 1
            if len(entry["examples"]) < 20:
                entry["examples"].append(
                    f"{case.operation.label}: {type(exc).__name__}: {str(exc)[:120]}"
                )

    run_settings = settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )

    @pytest.fixture(scope="module", autouse=True)
    def _running_apps() -> Iterator[None]:
        with TestClient(open_app), TestClient(secured_app):
            yield
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(short._ROOT, ignore_errors=True)
        out = os.environ.get(_FIGURES_ENV)
        if out:
            Path(out).write_text(json.dumps(figures, default=_jsonable, ensure_ascii=False))

    @open_schema.parametrize()
    @run_settings
    def test_long_without_token(case: schemathesis.Case) -> None:
        record(_MODES[0], case, None)

    @secured_schema.parametrize()
    @run_settings
    def test_long_with_token(case: schemathesis.Case) -> None:
        record(_MODES[1], case, AUTH)

    @secured_schema.parametrize()
    @run_settings
    def test_long_anonymous(case: schemathesis.Case) -> None:
        record(_MODES[2], case, None)

    return {
        "_running_apps": _running_apps,
        "test_long_without_token": test_long_without_token,
        "test_long_with_token": test_long_with_token,
        "test_long_anonymous": test_long_anonymous,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, Counter):
        return {str(k): v for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    raise TypeError(type(value))


if __name__ != "__main__" and os.environ.get(_EXAMPLES_ENV):
    # imported by pytest from main(): define the tests
    globals().update(_tests())


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
def _report(figures: dict[str, Any], seconds: float) -> str:
    lines = [
        f"schemathesis, {figures['examples_per_operation']} exemples au plus par opération, "
        f"{seconds:.0f} s",
        f"contrôles : {', '.join(figures['checks'])}",
    ]
    totals = Counter[str]()
    for mode, entry in figures["modes"].items():
        failures = entry["failures_by_check"]
        lines.append(
            f"- {mode} : {len(entry['operations'])} opérations, {entry['cases']} cas générés, "
            f"{entry['checks_run']} contrôles, {entry['failing_cases']} cas en échec"
            + (f" ({', '.join(f'{k} : {v}' for k, v in failures.items())})" if failures else "")
        )
        statuses = ", ".join(f"{k} : {v}" for k, v in entry["statuses"].items())
        lines.append(f"  statuts : {statuses}")
        lines.extend(f"  échec : {example}" for example in entry["examples"])
        totals["cases"] += entry["cases"]
        totals["checks"] += entry["checks_run"]
        totals["failing"] += entry["failing_cases"]
    lines.append(
        f"total : {totals['cases']} cas, {totals['checks']} contrôles, "
        f"{totals['failing']} cas en échec"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the long schemathesis test and print its figures; 1 if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--examples", type=int, default=300, help="examples per operation (default 300)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        os.environ[_EXAMPLES_ENV] = str(args.examples)
        os.environ[_FIGURES_ENV] = str(out)
        start = time.perf_counter()
        code = pytest.main(
            [
                __file__,
                "-q",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                str(_REPO),
                "-W",
                "ignore::DeprecationWarning",
            ]
        )
        seconds = time.perf_counter() - start
        if not out.exists():
            print(f"pas de chiffres : pytest a fini avec le code {code}", file=sys.stderr)
            return 2
        figures = json.loads(out.read_text())
    figures["seconds"] = round(seconds, 1)
    print(_report(figures, seconds))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    failed = any(entry["failing_cases"] for entry in figures["modes"].values())
    return 1 if failed or code not in (0, pytest.ExitCode.OK) else 0


if __name__ == "__main__":
    sys.exit(main())
