"""A national-size RPPS extraction read through the public paths, with peak memory.

Run: .venv/bin/python benchmarks/bench_upload.py [--rows 2000000] [--folder DIR]

Input: a SYNTHETIC « PS_LibreAcces_Personne_activite » extraction in the official layout (the
header and ``|`` separator of the real-format sample tests/data/io/PS_LibreAcces_Personne_
activite_202501150805.txt, 56 columns), ``--rows`` activity rows (2 million by default, the size
of the national file): invented identifiers and names, real commune codes of the reference
(communes drawn with their population), professions and modes in realistic shares, ~15 % of the
practitioners with a second activity. Generated once into ``--folder`` (default: the system's
temporary folder) and reused.

Cases, each in a fresh child process whose RSS high-water mark (``ru_maxrss``) is the peak
memory: ``read_practitioners(path)`` (the engine), and the service's upload path
(``Services.create_dataset`` on the file streamed into the data folder, read in the background
as a big upload is, table stored as Parquet). Wall and CPU time, peak memory and its ratio to the
file size; the machine's load average before and after. Targets: < 60 s and peak memory < 3×
the file size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "tests" / "data" / "io" / "PS_LibreAcces_Personne_activite_202501150805.txt"
FILENAME = "PS_LibreAcces_Personne_activite_202501150805.txt"

# (code profession, libellé, share), savoir-faire of doctors, modes d'exercice
_PROFESSIONS = (
    ("10", "Médecin", 0.38),
    ("60", "Infirmier", 0.30),
    ("70", "Masseur-Kinésithérapeute", 0.12),
    ("40", "Chirurgien-Dentiste", 0.07),
    ("50", "Sage-Femme", 0.04),
    ("21", "Pharmacien", 0.09),
)
_SAVOIR_FAIRE = (
    ("SM54", "Médecine générale", 0.45),
    ("SM53", "Spécialiste en Médecine Générale", 0.05),
    ("SM02", "Anesthesie-réanimation", 0.1),
    ("SM04", "Cardiologie et maladies vasculaires", 0.1),
    ("SM38", "Pédiatrie", 0.1),
    ("SM40", "Psychiatrie", 0.2),
)
_MODES = (("L", "Libéral", 0.55), ("S", "Salarié", 0.4), ("B", "Bénévole", 0.05))
_LAST = ("MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS")
_FIRST = ("CAMILLE", "LÉA", "HUGO", "CHLOÉ", "LOUIS", "MANON", "JULES", "INÈS", "NOÉ")


def generate(path: Path, rows: int, seed: int = 20250115) -> None:
    """Write a synthetic extraction of ``rows`` activity rows in the official layout."""
    from geo.reference import load_communes

    header = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    n_columns = header.count("|")  # the official header ends with '|'
    communes = load_communes()
    pop = communes["population"].to_numpy(dtype=float)
    weights = (pop + 1.0) / (pop + 1.0).sum()
    rng = np.random.default_rng(seed)
    # practitioners, ~15 % with a second activity row (another mode, often another commune)
    n_people = int(rows / 1.15) + 1
    person = np.sort(
        np.concatenate([np.arange(n_people), rng.integers(0, n_people, rows - n_people)])
    )[:rows]
    prof_i = rng.choice(len(_PROFESSIONS), n_people, p=[p[2] for p in _PROFESSIONS])[person]
    sf_i = rng.choice(len(_SAVOIR_FAIRE), n_people, p=[s[2] for s in _SAVOIR_FAIRE])[person]
    mode_i = rng.choice(len(_MODES), rows, p=[m[2] for m in _MODES])
    commune_i = rng.choice(len(communes), rows, p=weights)
    codes = communes["code"].astype(str).to_numpy()
    names = communes["nom"].astype(str).str.upper().to_numpy()
    last = rng.integers(0, len(_LAST), n_people)[person]
    first = rng.integers(0, len(_FIRST), n_people)[person]
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(header + "\n")
        block: list[str] = []
        for i in range(rows):
            pid = 10_000_000_000 + int(person[i]) * 7
            code, label, _ = _PROFESSIONS[prof_i[i]]
            sf, sf_label = ("", "")
            if code == "10":
                sf, sf_label, _ = _SAVOIR_FAIRE[sf_i[i]]
            mode, mode_label, _ = _MODES[mode_i[i]]
            ci = commune_i[i]
            fields = [
                "8",
                str(pid),
                f"8{pid}",
                "DR" if code == "10" else "",
                "Docteur" if code == "10" else "",
                "M",
                "Monsieur",
                _LAST[last[i]],
                _FIRST[first[i]],
                code,
                label,
                "C",
                "Civil",
                "S" if sf else "",
                "Spécialité ordinale" if sf else "",
                sf,
                sf_label,
                mode,
                mode_label,
                "",
                "",
                "",
                "",
                f"C{pid}",
                f"CABINET {_LAST[last[i]]}",
                "",
                f"CABINET {_LAST[last[i]]}",
                "",
                str(1 + i % 120),
                "",
                "R",
                "Rue",
                "DE LA RÉPUBLIQUE",
                "",
                f"{codes[ci][:2]}000 {names[ci]}",
                f"{codes[ci][:2]}000",
                codes[ci],
                names[ci],
                "",
                "",
                f"04770{i % 100000:05d}",
                "",
                "",
                "",
                codes[ci][:2],
                "",
                f"3{pid}",
                "CNOM/CNOM/CNOM",
                "SA07",
                "Cabinet individuel",
            ]
            fields += [""] * (n_columns - len(fields))
            block.append("|".join(fields) + "|\n")
            if len(block) == 100_000:
                out.write("".join(block))
                block.clear()
        out.write("".join(block))


_CHILD = r"""
import json, os, resource, sys, time, shutil
sys.path.insert(0, {root!r})
case, path, filename, folder = sys.argv[1:5]
w0, c0 = time.perf_counter(), time.process_time()
if case == "read_practitioners":
    from geo.io import read_practitioners
    frame = read_practitioners(path, filename=filename, all_professions=True)
    rows = len(frame)
    info = {{"rows_read": frame.attrs["rows_read"], "rows_kept": rows}}
else:
    from pathlib import Path
    from api.services import open_services
    from api.settings import Settings
    from api.uploads import Upload
    settings = Settings(database_path=Path(folder) / "var" / "db.sqlite3",
                        max_upload_bytes=1024**3, sync_parse_bytes=0)
    services = open_services(settings)
    tmp = services.store.tmp_dir / "upload-bench.tmp"
    shutil.copyfile(path, tmp)  # what receive_upload leaves: the body streamed to the data folder
    import hashlib
    digest = hashlib.sha256()
    with open(tmp, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    upload = Upload(filename, digest.hexdigest(), os.path.getsize(tmp), path=tmp)
    w0, c0 = time.perf_counter(), time.process_time()  # from the received file on
    record, created = services.create_dataset("practitioners", upload, filename,
                                              {{"format": "auto", "professions": None}}, True)
    services.wait_dataset(record.id)
    record = services.dataset(record.id)
    assert record.status == "ready", record.error
    rows = record.rows
    info = {{"status": record.status, "rows_read": record.info["read"]["rows_read"],
            "rows_kept": rows}}
    services.close()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"wall": time.perf_counter() - w0, "cpu": time.process_time() - c0,
                  "peak_bytes": usage.ru_maxrss * 1024, **info}}))
"""


def run_case(case: str, path: Path, folder: Path) -> dict[str, float]:
    """Run one case in a fresh interpreter; return its figures."""
    code = _CHILD.format(root=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code, case, str(path), FILENAME, str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    folder = args.folder / "cartosoins-bench-upload"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rpps_synthetique_{args.rows}.txt"
    if not path.is_file():
        t0 = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s")
    size = path.stat().st_size
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"file: {args.rows:,} rows, {size / 1e6:,.1f} MB (synthetic RPPS, official layout)")
    print("| path | wall | CPU | peak RSS | peak / file size | rows kept |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in ("read_practitioners", "service upload (background read)"):
        with tempfile.TemporaryDirectory(dir=folder) as work:
            key = "read_practitioners" if case == "read_practitioners" else "service"
            r = run_case(key, path, Path(work))
        print(
            f"| {case} | {r['wall']:.1f} s | {r['cpu']:.1f} s | {r['peak_bytes'] / 1e6:,.0f} MB "
            f"| {r['peak_bytes'] / size:.2f}× | {int(r['rows_kept']):,} |"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
