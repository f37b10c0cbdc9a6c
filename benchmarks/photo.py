"""Photo benchmark: how long reading a label photo takes and how much memory the decoder costs.

Run from the repository root: ``python benchmarks/photo.py [--runs 30] [--json]``.

The label photos are made by ``tests/barcode_images.py`` in a child process, so that building
them leaves no trace in this process's memory figures. This process then reads each photo
``--runs`` times in a row with ``handlers.labels.read_label`` (one event loop, the decoding in
its worker thread, as in the bot) and reports the wall time per read (p50, p95, max).

Photos: a 1600x1200 JPEG of a straight label (one zxing-cpp pass); a 4000x3000 JPEG of the same
(decoded at reduced scale, then downscaled to 2 MP); a 1600x1200 label turned by 30 degrees
(read by the turned fallback pass); a 1600x1200 photo without any barcode (every pass runs:
the slowest case).

Memory: VmRSS and VmHWM from /proc/self/status at start, after importing the decoder (Pillow
and zxing-cpp), and after each photo's reads; VmHWM is reset (``/proc/self/clear_refs``) before
each photo where the kernel allows it, so each row's peak is that photo's. Exit status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRACK = "RA123456789RU"

# (key, title, code128_label keyword arguments or None for no_barcode_photo)
PHOTOS: list[tuple[str, str, dict[str, object] | None]] = [
    ("label-1600", "label 1600x1200 JPEG q85", {"jpeg_quality": 85}),
    ("label-4000", "label 4000x3000 JPEG q85", {"size": (4000, 3000), "jpeg_quality": 85}),
    ("turned-1600", "label turned 30°, 1600x1200", {"rotate": 30, "jpeg_quality": 85}),
    ("none-1600", "no barcode 1600x1200 JPEG", None),
]

_MAKE_PHOTOS = """
import json, sys
from pathlib import Path
from tests.barcode_images import code128_label, no_barcode_photo
out = Path(sys.argv[1])
for key, kwargs in json.loads(sys.argv[2]):
    if kwargs is None:
        data = no_barcode_photo()
    else:
        if "size" in kwargs:
            kwargs["size"] = tuple(kwargs["size"])
        data = code128_label(sys.argv[3], **kwargs)
    (out / key).write_bytes(data)
"""


@dataclass
class Memory:
    phase: str
    rss_mb: float | None
    hwm_mb: float | None


@dataclass
class Timing:
    key: str
    title: str
    bytes: int
    runs: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    outcome: str
    codes: list[str]


def _status_mb(name: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _memory(phase: str) -> Memory:
    return Memory(phase, _status_mb("VmRSS"), _status_mb("VmHWM"))


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, math.ceil(share * len(sorted_values)) - 1)
    return sorted_values[index]


def make_photos(directory: Path) -> dict[str, bytes]:
    spec = json.dumps([(key, kwargs) for key, _, kwargs in PHOTOS])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", _MAKE_PHOTOS, str(directory), spec, TRACK]
    subprocess.run(command, check=True, cwd=ROOT, env=env)
    return {key: (directory / key).read_bytes() for key, _, _ in PHOTOS}


async def time_reads(key: str, title: str, data: bytes, runs: int) -> Timing:
    from handlers.labels import read_label

    times: list[float] = []
    reading = None
    for _ in range(runs):
        started = time.perf_counter()
        reading = await read_label(data, timeout=30.0)
        times.append((time.perf_counter() - started) * 1000)
    assert reading is not None
    times.sort()
    return Timing(
        key=key,
        title=title,
        bytes=len(data),
        runs=runs,
        p50_ms=round(_percentile(times, 0.50), 1),
        p95_ms=round(_percentile(times, 0.95), 1),
        max_ms=round(times[-1], 1),
        outcome=reading.outcome.name,
        codes=list(reading.codes),
    )


def render(timings: list[Timing], memory: list[Memory], peak_reset: bool) -> str:
    lines = [f"read_label timings ({os.cpu_count()} CPUs, Python {platform.python_version()})"]
    header = ("photo", "KB", "runs", "p50 ms", "p95 ms", "max ms")
    lines.append("{:<30} {:>6} {:>4} {:>7} {:>7} {:>7}  result".format(*header))
    for t in timings:
        result = f"{t.outcome} {' '.join(t.codes)}".strip()
        lines.append(
            f"{t.title:<30} {t.bytes // 1024:>6} {t.runs:>4} {t.p50_ms:>7.1f} {t.p95_ms:>7.1f}"
            f" {t.max_ms:>7.1f}  {result}"
        )
    lines.append("")
    note = "VmHWM reset before each photo" if peak_reset else "VmHWM is the process peak"
    lines.append(f"memory ({note})")
    lines.append(f"{'phase':<42} {'VmRSS MB':>9} {'VmHWM MB':>9}")
    for m in memory:
        rss = "-" if m.rss_mb is None else f"{m.rss_mb:.1f}"
        hwm = "-" if m.hwm_mb is None else f"{m.hwm_mb:.1f}"
        lines.append(f"{m.phase:<42} {rss:>9} {hwm:>9}")
    return "\n".join(lines) + "\n"


async def run(runs: int, photos: dict[str, bytes]) -> tuple[list[Timing], list[Memory], bool]:
    memory = [_memory("start (python, asyncio, photo bytes)")]
    import handlers.labels  # noqa: F401 - the import itself is measured

    memory.append(_memory("after import handlers.labels"))
    peak_reset = True
    timings: list[Timing] = []
    for key, title, _ in PHOTOS:
        peak_reset = _reset_peak() and peak_reset
        timings.append(await time_reads(key, title, photos[key], runs))
        memory.append(_memory(f"after {runs} reads: {title}"))
    return timings, memory, peak_reset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30, help="reads of each photo (default 30)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be in [1, 1000]")

    with tempfile.TemporaryDirectory() as directory:
        photos = make_photos(Path(directory))
    timings, memory, peak_reset = asyncio.run(run(args.runs, photos))
    if args.json:
        document = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "runs": args.runs,
            "hwm_reset_per_photo": peak_reset,
            "timings": [asdict(t) for t in timings],
            "memory": [asdict(m) for m in memory],
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(render(timings, memory, peak_reset), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
