"""Load on the HTTP service: concurrent clients on a stored map and summary.

Run: .venv/bin/python benchmarks/bench_api_load.py [--clients 20] [--requests 50] [--departement 63]
     [--no-token]

Starts the real ``cartosoins serve`` on 127.0.0.1 (free port, temporary database), computes the
APL of one département on the simulated practitioners, fetches its map once (so it is stored),
then ``--clients`` threads, each with its own HTTP connection, send ``--requests`` requests each,
alternating the interactive map (HTML) and the summary (JSON). Prints p50 / p95 / max latency
per endpoint and overall, throughput and errors (any non-200 or transport error), the bytes on
the wire (gzip, as browsers ask) and the machine's load average. By default the server has an API
token (``CARTOSOINS_API_TOKEN``, random) and every request sends it, as a partner would; the
analysis is private. Target (issue 11): 20 clients, zero errors, with the token; p95 is reported.

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
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per client")
    parser.add_argument("--departement", default="63")
    parser.add_argument("--no-token", action="store_true", help="an open server, no token")
    args = parser.parse_args()
    token = None if args.no_token else secrets.token_urlsafe(24)
    auth = {} if token is None else {"Authorization": f"Bearer {token}"}
    load_before = os.getloadavg()

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="cartosoins-load-") as tmp:
        db = Path(tmp) / "cartosoins.sqlite3"
        env = os.environ | {"PYTHONPATH": str(ROOT)}
        env.pop("CARTOSOINS_API_TOKEN", None)
        if token is not None:
            env["CARTOSOINS_API_TOKEN"] = token
        log = (Path(tmp) / "server.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--db", str(db)],
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=120, headers=auth) as client:
                ready = _wait_ready(client, proc)
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

            latencies: dict[str, list[float]] = {url: [] for url in urls}
            errors: list[str] = []
            lock = threading.Lock()
            barrier = threading.Barrier(args.clients)

            def worker(i: int) -> None:
                local: dict[str, list[float]] = {url: [] for url in urls}
                local_errors: list[str] = []
                with httpx.Client(base_url=base, timeout=60, headers=auth) as http:
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
            t_load = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t_load
            load_after = os.getloadavg()
        finally:
            proc.send_signal(signal.SIGTERM)
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
    print(f"token: {'none (open server)' if token is None else 'set, sent by every client'}")
    print(
        f"server ready in {ready:.2f} s; "
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
