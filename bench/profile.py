"""Where a warm request's time goes: py-spy samples both keygate workers while wrk sends one
kind of request, and the functions that hold the CPU most are printed.

    uv tool install py-spy     # once
    uv run --group bench python bench/profile.py bearer      # or: plain, basic, products, ...
    uv run --group bench python bench/profile.py bearer --seconds 15 --top 30

It uses the benchmark's database (keygate_bench) and Redis database (12), like bench/run.py,
and stops everything it started. `self` is the share of samples spent in the function itself,
`total` the share in it or anything it called (a function on the stack twice counts once).
"""

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

import accounts
import database
import loadgen
import redis
from figures import Results
from loadgen import Load
from run import HTTP_CONNECTIONS, HTTP_FIGURES, REDIS_URL, Bench, Profile
from server import keygate

PROFILE: Final = Profile(
    "profile", runs=1, warmup=2, http=0, bcrypt=0, login=0, storm=0, pg=0, soak=0, outage=0
)


def frames_of(stack: str) -> list[str]:
    """py-spy's raw format: `frame;frame;... count`, outermost first; a frame reads
    `function (file.py:line)`: the line is dropped, so a function counts once."""
    return [frame.split(":")[0] + ")" if ":" in frame else frame for frame in stack.split(";")]


def summarise(raw: str, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = frames_of(stack)
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [
        f"{samples} samples",
        "",
        f"{'self':>6}  function",
        *(f"{n / samples:6.1%}  {frame}" for frame, n in own.most_common(top)),
        "",
        f"{'total':>6}  function",
        *(f"{n / samples:6.1%}  {frame}" for frame, n in inclusive.most_common(top)),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("figure", choices=[name for name in HTTP_FIGURES if name != "bare"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's stacks in this file")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        sys.exit("bench: py-spy is missing: `uv tool install py-spy`")
    wrk = loadgen.ensure_wrk()
    bench = Bench(wrk, PROFILE, Results("profile", {}))
    database.drop_database()
    keygate("migrate", env=bench.env())
    keygate("demo", env=bench.env())  # the products GET /products lists
    with redis.Redis.from_url(REDIS_URL) as client:
        client.flushdb()
    with bench.serving("profile"):
        accounts.register(bench.server.url, bench.users)
        bench.log_in(source="cache")
        path, credentials = HTTP_FIGURES[args.figure]
        headers = (f"Authorization: {bench.authorization(credentials)}",) if credentials else ()
        warmup = Load(bench.server.url + path, PROFILE.warmup, HTTP_CONNECTIONS, headers)
        bench.run(warmup)
        load = Load(bench.server.url + path, args.seconds + 4, HTTP_CONNECTIONS, headers)
        with tempfile.TemporaryDirectory() as tmp:
            outputs = [Path(tmp) / f"{pid}.txt" for pid in bench.server.worker_pids()]
            spies = [
                subprocess.Popen(
                    [
                        py_spy,
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(int(args.seconds)),
                        "--rate",
                        "250",
                        "--format",
                        "raw",
                        "--nonblocking",
                        "--output",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for pid, out in zip(bench.server.worker_pids(), outputs, strict=True)
            ]
            (result,) = loadgen.run_together(wrk, [load])
            for spy in spies:
                spy.wait(timeout=60)
            raw = "\n".join(out.read_text() for out in outputs if out.exists())
    print(f"{args.figure}: {result.good_per_second:,.0f} req/s under py-spy")
    if args.raw:
        args.raw.write_text(raw)
    print(summarise(raw, args.top))


if __name__ == "__main__":
    main()
