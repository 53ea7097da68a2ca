"""Load on the HTTP service: concurrent clients on a stored map and summary.

Run: .venv/bin/python benchmarks/bench_api_load.py [--clients 20] [--requests 50] [--departement 63]
     [--no-token] [--database-url URL | --postgresql] [--servers N]

Starts the real ``cartosoins serve`` on 127.0.0.1 (free port, temporary database), computes the
APL of one département on the simulated practitioners, fetches its map once (so it is stored),
then ``--clients`` threads, each with its own HTTP connection, send ``--requests`` requests each,
alternating the interactive map (HTML) and the summary (JSON). Prints p50 / p95 / max latency
per endpoint and overall, throughput and errors (any non-200 or transport error), the bytes on
the wire (gzip, as browsers ask) and the machine's load average. By default the server has an API
token (``CARTOSOINS_API_TOKEN``, random) and every request sends it, as a partner would; the
analysis is private. Target (issue 11): 20 clients, zero errors, with the token; p95 is reported.

By default the database is SQLite (a temporary file) and one server runs. ``--database-url
postgresql://…`` runs on that PostgreSQL database (the data folder, ``CARTOSOINS_DATA_DIR``, is a
temporary folder); ``--postgresql`` starts a throwaway cluster (tests/pg.py ``throwaway_server``,
scripts/pg_cluster.sh), creates a database and removes both at the end. ``--servers N`` (PostgreSQL
only) starts N ``serve`` processes on the same database and data folder; client ``i`` talks to
server ``i mod N``.

Traffic goes to 127.0.0.1 only; the request count is bounded and the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def _wait_ready(client: httpx.Client, proc: subprocess.Popen[bytes]) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < 60:
        if proc.poll() is not None:
            raise SystemExit("the server stopped during startup")
        try:
            if client.get("/health").status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit("the server was not ready within 60 s")


def _start_servers(
    count: int, tmp: Path, env: dict[str, str], db: Path | None
) -> list[tuple[subprocess.Popen[bytes], str, Any]]:
    """Start ``count`` ``cartosoins serve`` processes; return (process, base URL, log file)."""
    started = []
    for i in range(count):
        port = _free_port()
        command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
        if db is not None:
            command += ["--db", str(db)]
        log = (tmp / f"server{i + 1}.log").open("wb")
        proc = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((proc, f"http://127.0.0.1:{port}", log))
    return started


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) these processes used so far (Linux ``/proc``; 0 if gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


def _postgres_pids() -> list[int]:
    """Processes named ``postgres`` on this machine (the cluster's server and backends)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[str | None]:
    """The PostgreSQL URL to run on (None: SQLite), a throwaway cluster with --postgresql."""
    if args.database_url is not None:
        yield args.database_url
        return
    if not args.postgresql:
        yield None
        return
    sys.path.insert(0, str(ROOT))
    from tests.pg import throwaway_server

    with throwaway_server() as server:
        url = server.create_database("cartosoins_bench")
        try:
            yield url
        finally:
            server.drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per client")
    parser.add_argument("--departement", default="63")
    parser.add_argument("--no-token", action="store_true", help="an open server, no token")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--database-url",
        metavar="URL",
        help="run on this PostgreSQL database (postgresql://…); the data folder is temporary",
    )
    where.add_argument(
        "--postgresql",
        action="store_true",
        help="run on a throwaway PostgreSQL cluster (tests/pg.py), removed at the end",
    )
    parser.add_argument(
        "--servers",
        type=int,
        default=1,
        help="serve processes on the same database, clients spread round-robin (PostgreSQL)",
    )
    args = parser.parse_args()
    if args.servers < 1:
        parser.error("--servers must be at least 1")
    if args.servers > 1 and args.database_url is None and not args.postgresql:
        parser.error("--servers > 1 needs PostgreSQL (--database-url or --postgresql)")
    token = None if args.no_token else secrets.token_urlsafe(24)
    auth = {} if token is None else {"Authorization": f"Bearer {token}"}
    load_before = os.getloadavg()

    with (
        _database(args) as database_url,
        tempfile.TemporaryDirectory(prefix="cartosoins-load-") as tmp,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARTOSOINS_")}
        env["PYTHONPATH"] = str(ROOT)
        if token is not None:
            env["CARTOSOINS_API_TOKEN"] = token
        if database_url is not None:
            env["CARTOSOINS_DATABASE_URL"] = database_url
            env["CARTOSOINS_DATA_DIR"] = str(Path(tmp) / "data")
            engine = "PostgreSQL"
            db = None
        else:
            engine = "SQLite"
            db = Path(tmp) / "cartosoins.sqlite3"
        servers = _start_servers(args.servers, Path(tmp), env, db)
        bases = [base for _, base, _ in servers]
        base = bases[0]
        try:
            readiness = []
            for proc, url, _ in servers:
                with httpx.Client(base_url=url, timeout=120, headers=auth) as client:
                    readiness.append(_wait_ready(client, proc))
            ready = max(readiness)
            with httpx.Client(base_url=base, timeout=120, headers=auth) as client:
                t0 = time.perf_counter()
                created = client.post(
                    "/analyses",
                    json={
                        "territory": {"departements": [args.departement]},
                        "measure": "apl",
                        "profession": "medecin_generaliste",
                    },
                ).json()
                while client.get(f"/jobs/{created['job']['id']}").json()["status"] not in (
                    "done",
                    "failed",
                ):
                    time.sleep(0.05)
                analysis = client.get(f"/analyses/{created['id']}").json()
                if analysis["status"] != "done":
                    raise SystemExit(f"analysis failed: {analysis['error']}")
                computed = time.perf_counter() - t0
                urls = [f"/maps/{analysis['id']}.html", f"/analyses/{analysis['id']}/summary"]
                sizes = {url: len(client.get(url).content) for url in urls}  # warm: stored
                plain = {"Accept-Encoding": "identity"}
                wire = {url: client.get(url, headers=plain).num_bytes_downloaded for url in urls}
                gzipped = {url: client.get(url).num_bytes_downloaded for url in urls}
            for other in bases[1:]:  # every server has read the stored results once
                with httpx.Client(base_url=other, timeout=120, headers=auth) as client:
                    for url in urls:
                        response = client.get(url)
                        if response.status_code != 200 or len(response.content) != sizes[url]:
                            raise SystemExit(f"{other}{url}: HTTP {response.status_code}")

            latencies: dict[str, list[float]] = {url: [] for url in urls}
            errors: list[str] = []
            lock = threading.Lock()
            barrier = threading.Barrier(args.clients)

            def worker(i: int) -> None:
                local: dict[str, list[float]] = {url: [] for url in urls}
                local_errors: list[str] = []
                with httpx.Client(base_url=bases[i % len(bases)], timeout=60, headers=auth) as http:
                    barrier.wait()
                    for j in range(args.requests):
                        url = urls[(i + j) % len(urls)]
                        t = time.perf_counter()
                        try:
                            response = http.get(url)
                            ok = response.status_code == 200 and len(response.content) == sizes[url]
                            if not ok:
                                local_errors.append(f"{url}: HTTP {response.status_code}")
                        except httpx.HTTPError as exc:
                            local_errors.append(f"{url}: {type(exc).__name__}")
                        local[url].append(time.perf_counter() - t)
                with lock:
                    for url in urls:
                        latencies[url] += local[url]
                    errors.extend(local_errors)

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
            server_pids = [proc.pid for proc, _, _ in servers]
            pg_pids = _postgres_pids() if database_url is not None else []
            cpu_before = (_cpu_s(server_pids), _cpu_s(pg_pids), time.process_time())
            t_load = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t_load
            cpu_servers = _cpu_s(server_pids) - cpu_before[0]
            cpu_pg = _cpu_s(_postgres_pids() if database_url is not None else []) - cpu_before[1]
            cpu_clients = time.process_time() - cpu_before[2]
            load_after = os.getloadavg()
        finally:
            for proc, _, _ in servers:
                proc.send_signal(signal.SIGTERM)
            for proc, _, log in servers:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=60)
                log.close()

    everything = [v for url in urls for v in latencies[url]]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in load_before)}; "
        f"after the load: {', '.join(f'{v:.2f}' for v in load_after)}"
    )
    print(
        f"database: {engine}, {args.servers} serve process(es), "
        f"clients spread round-robin over them"
    )
    print(f"token: {'none (open server)' if token is None else 'set, sent by every client'}")
    print(
        f"CPU during the load: servers {cpu_servers:.2f} s"
        + (f", PostgreSQL {cpu_pg:.2f} s" if database_url is not None else "")
        + f", clients {cpu_clients:.2f} s (wall {wall:.2f} s, {os.cpu_count()} cores)"
    )
    print(
        f"server(s) ready in {ready:.2f} s; "
        f"APL of département {args.departement} computed and stored in {computed:.2f} s"
    )
    print(
        f"{args.clients} clients × {args.requests} requests = {len(everything)} requests in "
        f"{wall:.2f} s ({len(everything) / wall:.0f} req/s), errors: {len(errors)}"
    )
    print("| endpoint | bytes | gzip on the wire | requests | p50 | p95 | max |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for url in urls:
        values = latencies[url]
        name = "map HTML" if url.endswith(".html") else "summary JSON"
        print(
            f"| {name} | {wire[url]:,} | {gzipped[url]:,} | {len(values)} | "
            f"{statistics.median(values) * 1000:.1f} ms "
            f"| {_percentile(values, 95) * 1000:.1f} ms | {max(values) * 1000:.1f} ms |"
        )
    print(
        f"| all | | | {len(everything)} | {statistics.median(everything) * 1000:.1f} ms | "
        f"{_percentile(everything, 95) * 1000:.1f} ms | {max(everything) * 1000:.1f} ms |"
    )
    for line in errors[:10]:
        print("error:", line)
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
