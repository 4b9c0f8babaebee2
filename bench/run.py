"""keygate's benchmark: the service measured against its own ceiling (issue 8).

    uv run --group bench python bench/run.py          # full mode, under ten minutes
    uv run --group bench python bench/run.py --quick  # a few seconds a figure: checks it works

It installs wrk when it is missing (Debian's package), empties its own database
(keygate_bench) and Redis database (12), starts `keygate serve --workers 2` on a free port of
127.0.0.1 at BCRYPT_ROUNDS=12, seeds its users through the API, runs every figure, stops
everything it started, and writes bench/results/latest.{json,md,png}. Every load goes to
127.0.0.1 only, for a fixed time on a fixed number of connections.

Settings the benchmark does not fix (LOGIN_QUEUE_SIZE, DATABASE_POOL_SIZE, ...) come from the
environment as keygate's own do, so that tuning can be measured.
"""

import argparse
import datetime
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final, NoReturn

import accounts
import database
import loadgen
import pg_proxy
import raw_bcrypt
import redis
import report
import siege
from figures import Results, check_targets
from loadgen import Load
from server import ROOT, BareServer, KeygateServer, MailSink, ServerError, keygate

REDIS_URL: Final = os.environ.get("KEYGATE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
BCRYPT_ROUNDS: Final = 12
CACHE_TTL_SECONDS: Final = 300  # keygate's default
HTTP_CONNECTIONS: Final = 64  # as the held-out speed check of issue 15
LOGIN_CONNECTIONS: Final = 8  # enough to keep every bcrypt thread of both workers busy
STORM_CONNECTIONS: Final = 64
FLOOD_CONNECTIONS: Final = 32  # registrations at once, all from 127.0.0.1
# Failing logins at once from 5 addresses: more than their share of both workers' queues.
CROWD_CONNECTIONS: Final = 120
# The flood's server admits this many registrations per address (the default, 20 an hour,
# would turn the flood away with 429 before it costs anything).
FLOOD_REGISTRATIONS_PER_ADDRESS: Final = 10_000_000
PROBE_CONNECTIONS: Final = 2
SIEGE_IDLE_CONNECTIONS: Final = 1000  # the contract's siege (docs/contract.md §8)
SIEGE_HEADER_BYTES: Final = 100 * 1024 * 1024
# Requests that need PostgreSQL while it hangs (the outage figure): their 503s are timed.
OUTAGE_PG_CONNECTIONS: Final = 8
# The soak is cut into this many runs, the workers' memory read after each: it shows
# whether RSS levels off.
SOAK_SEGMENTS: Final = 6
# Password reset requests (issue 25): accounts with an address, and as many names that are
# no account. Every request comes from 127.0.0.1, so the per-address limit is lifted; the
# per-account limit stays at its default (3 messages an hour).
RESET_NAMES: Final = tuple(f"benchmail{n}" for n in range(1, 51))
UNKNOWN_NAMES: Final = tuple(f"nobody{n}" for n in range(1, 51))
RECOVERY_REQUESTS_PER_ADDRESS: Final = 10_000_000
SLOW_MAIL_SECONDS: Final = 2.0
LOGIN_TIMEOUT_SECONDS: Final = 30
LOG_DIR: Final = report.RESULTS_DIR / "tmp"
# Start-ups, seeding, PostgreSQL's statistics delay and draining the storms, roughly.
OVERHEAD_SECONDS: Final = 100

HTTP_FIGURES: Final = {  # name: (path, credentials)
    "bare": ("/health", None),  # served by bench/bare_app.py, not keygate
    "plain": ("/health", None),
    "bearer": ("/users/me", "bearer"),
    "basic": ("/users/me", "basic"),
    "products": ("/products", "bearer"),
    "products_basic": ("/products", "basic"),
}

# kind: (path, credentials) of the runs whose PostgreSQL transactions are counted.
PG_LOADS: Final = (
    ("bearer", "/users/me", "bearer"),
    ("basic", "/users/me", "basic"),
    ("products", "/products", "bearer"),
)


@dataclass(frozen=True)
class Profile:
    """How long each kind of run lasts, in seconds."""

    name: str
    runs: int
    warmup: float
    http: float
    bcrypt: float
    login: float
    storm: float
    pg: float
    soak: float
    outage: float

    def load_seconds(self) -> float:
        # plus nocache bearer and basic, scale bearer, and the four reset request figures
        http_figures = len(HTTP_FIGURES) + 2 + 1 + 4
        return (
            http_figures * (self.warmup + self.runs * self.http)
            + 2 * (self.warmup + self.runs * self.login)  # login and scale login
            + self.runs * self.login  # login during a registration flood
            + self.runs * (self.bcrypt + 2 * self.storm)  # the storm and the siege
            + 3 * (self.pg + self.warmup)
            + 6 * database.STATS_FLUSH_SECONDS
            + self.soak
            + 2 * self.runs * self.outage
        )


FULL: Final = Profile(
    "full", runs=3, warmup=2, http=8, bcrypt=5, login=10, storm=12, pg=5, soak=60, outage=5
)
QUICK: Final = Profile(
    "quick", runs=3, warmup=1, http=2, bcrypt=2, login=3, storm=4, pg=2, soak=5, outage=2
)


class Bench:
    """One run: its settings, its users, the figures measured so far and the server it is
    measuring now (inside `serving`)."""

    def __init__(self, wrk: str, profile: Profile, results: Results) -> None:
        self.wrk = wrk
        self.profile = profile
        self.results = results
        self.jwt_secret = secrets.token_urlsafe(48)
        self.users = accounts.Accounts.new()
        self.token = ""
        self._server: KeygateServer | None = None
        self.bare: KeygateServer | None = None

    # --- the server and its users ------------------------------------------------------

    def env(
        self,
        cache_ttl_seconds: int = CACHE_TTL_SECONDS,
        database_url: str = database.DATABASE_URL,
        smtp_url: str = "",
    ) -> dict[str, str]:
        return os.environ | {
            "SMTP_URL": smtp_url,
            "RECOVERY_MAX_PER_ADDRESS": str(RECOVERY_REQUESTS_PER_ADDRESS),
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "BCRYPT_ROUNDS": str(BCRYPT_ROUNDS),
            "JWT_SECRET": self.jwt_secret,
            "AUTH_CACHE_TTL_SECONDS": str(cache_ttl_seconds),
            "REGISTRATION_MAX_PER_ADDRESS": str(FLOOD_REGISTRATIONS_PER_ADDRESS),
            # wrk stands for a proxy in front of many clients (login.lua): see that script.
            "TRUSTED_PROXIES": "127.0.0.1",
            # wrk cannot refresh a token: the one a server's figures share (the soak's too,
            # however long it is asked to be) must outlive the whole run.
            "ACCESS_TOKEN_TTL_SECONDS": str(self.run_seconds()),
        }

    def run_seconds(self) -> int:
        """Twice the run's estimated length (a full run took about 17 minutes against an
        estimate of 13)."""
        return 2 * int(self.profile.load_seconds() + OVERHEAD_SECONDS)

    @contextmanager
    def serving(
        self,
        name: str,
        cache_ttl_seconds: int = CACHE_TTL_SECONDS,
        database_url: str = database.DATABASE_URL,
        smtp_url: str = "",
    ) -> Iterator[None]:
        print(f"\nkeygate ({name}): 2 workers, AUTH_CACHE_TTL_SECONDS={cache_ttl_seconds}")
        log_path = LOG_DIR / f"server-{name}.log"
        errors_before = sum(self.results.errors.values())
        env = self.env(cache_ttl_seconds, database_url, smtp_url)
        with KeygateServer(env, log_path) as self._server:
            try:
                yield
            finally:
                self._server = None
        if sum(self.results.errors.values()) == errors_before:
            log_path.unlink()  # kept only when something went wrong
        else:
            print(f"  unexpected errors: keygate's output is kept in {log_path.relative_to(ROOT)}")

    @contextmanager
    def serving_bare(self) -> Iterator[None]:
        """bench/bare_app.py, beside keygate, for the `bare` figure."""
        print("bare FastAPI app (bench/bare_app.py): 2 workers")
        log_path = LOG_DIR / "server-bare.log"
        with BareServer(self.env(), log_path) as self.bare:
            try:
                yield
            finally:
                self.bare = None
        log_path.unlink()

    @property
    def server(self) -> KeygateServer:
        if self._server is None:
            raise ServerError("no keygate server is running")
        return self._server

    def log_in(self, source: str) -> None:
        """Logs the main user in, and checks that bearer and Basic requests answer 200,
        authenticated from `source` (the cache or the db)."""
        self.token = accounts.access_token(self.server.url, self.users)
        for credentials in ("bearer", "basic"):
            header = self.authorization(credentials)
            accounts.check_authenticated(self.server.url, "/users/me", header, source)

    def authorization(self, credentials: str) -> str:
        if credentials == "bearer":
            return f"Bearer {self.token}"
        return f"Basic {self.users.basic_credentials}"

    # --- loads ---------------------------------------------------------------------------

    def http_load(self, path: str, credentials: str | None, seconds: float) -> Load:
        headers = (f"Authorization: {self.authorization(credentials)}",) if credentials else ()
        return Load(self.server.url + path, seconds, HTTP_CONNECTIONS, headers)

    def figure_load(self, name: str, seconds: float) -> Load:
        path, credentials = HTTP_FIGURES[name]
        if name == "bare":
            if self.bare is None:
                raise ServerError("the bare app is not running")
            return Load(self.bare.url + path, seconds, HTTP_CONNECTIONS)
        return self.http_load(path, credentials, seconds)

    def flood_load(self, seconds: float, run: int) -> Load:
        return Load(
            self.server.url + "/users",
            seconds,
            FLOOD_CONNECTIONS,
            script="register.lua",
            script_args=(self.users.password, f"flood{run}x"),
            timeout_seconds=LOGIN_TIMEOUT_SECONDS,
        )

    def login_load(self, seconds: float, connections: int = LOGIN_CONNECTIONS) -> Load:
        return Load(
            self.server.url + "/token",
            seconds,
            connections,
            script="login.lua",
            script_args=(self.users.password, *self.users.usernames),
            timeout_seconds=LOGIN_TIMEOUT_SECONDS,
        )

    def reset_load(self, names: tuple[str, ...], seconds: float) -> Load:
        return Load(
            self.server.url + "/users/password-reset",
            seconds,
            HTTP_CONNECTIONS,
            script="reset.lua",
            script_args=names,
        )

    def run(self, *loads: Load) -> list[loadgen.WrkRun]:
        """Runs the loads at once, once the server has finished all earlier work."""
        self.server.wait_until_idle()
        return loadgen.run_together(self.wrk, list(loads))

    def measure(self, name: str, load: Load) -> None:
        (result,) = self.run(load)
        self.results.add(name, result.good_per_second, result.p99_ms)
        self.results.add_errors(name, result.errors)
        show(name, f"{result.good_per_second:,.1f} req/s, p99 {result.p99_ms:,.1f} ms", result)

    def rounds(self, loads: dict[str, Load]) -> None:
        """A warm-up of each, then the runs interleaved (a, b, c, a, b, c, ...), so that the
        machine's other work weighs on every figure alike. The warm-ups meet cold workers
        (the worker that did not answer the first login has remembered nothing yet): their
        errors count too."""
        for name, load in loads.items():
            (warmup,) = self.run(replace(load, seconds=self.profile.warmup))
            self.results.add_errors(f"{name} (warm-up)", warmup.errors)
            if warmup.errors:
                show(f"{name} warm-up", f"{warmup.good_per_second:,.1f} req/s", warmup)
        for _ in range(self.profile.runs):
            for name, load in loads.items():
                self.measure(name, load)

    # --- the figures ---------------------------------------------------------------------

    def http_figures(self, prefix: str = "", names: Iterable[str] = HTTP_FIGURES) -> None:
        seconds = self.profile.http
        self.rounds({prefix + n: self.figure_load(n, seconds) for n in names})

    def pg_statements(self) -> None:
        """Transactions in keygate's database per warm bearer and Basic request on /users/me,
        and per bearer GET /products, read from PostgreSQL's statistics over one run of each.
        keygate sends its reads outside explicit transactions, so each statement is one
        transaction (pg_stat_statements would count statements themselves, but it must be
        preloaded by the server, which the benchmark does not configure)."""
        print("PostgreSQL transactions per request (each reading waits for the statistics)")
        for kind, path, credentials in PG_LOADS:
            # Warm: every pooled connection this load needs is open and has prepared its
            # statements, as in a server that has been serving for a while.
            self.run(self.http_load(path, credentials, self.profile.warmup))
            before = database.settled_transactions()
            (result,) = self.run(self.http_load(path, credentials, self.profile.pg))
            after = database.settled_transactions()
            self.results.pg_per_request[kind] = (after - before) / max(result.requests, 1)
            show(f"pg_{kind}", f"{after - before} in {result.requests} requests", result)

    def login(self) -> None:
        """Logins, each run beside one of bcrypt alone on every core (the ceiling) and one
        during a registration flood."""
        self.run(self.login_load(self.profile.warmup))
        for run in range(self.profile.runs):
            self.server.wait_until_idle()  # the logins given up on share the cores otherwise
            verifies = raw_bcrypt.verifies_per_second(self.profile.bcrypt, BCRYPT_ROUNDS)
            self.results.add("raw_bcrypt", verifies)
            print(f"  {'raw_bcrypt':<18} {verifies:.1f} verifies/s")
            self.measure("login", self.login_load(self.profile.login))
            self.flood(run)
            self.crowd(run)

    def flood(self, run: int) -> None:
        """The same logins while FLOOD_CONNECTIONS clients register new users nonstop."""
        logins, flood = self.run(
            self.login_load(self.profile.login), self.flood_load(self.profile.login, run)
        )
        registered = flood.statuses.get(201, 0) / flood.seconds
        self.results.add("flood_login", logins.good_per_second, logins.p99_ms)
        self.results.add("flood_registrations", registered)
        # A login turned away (503) is what the flood costs: it shows in the ratio, as in the
        # storm; anything else is an error.
        other_statuses = sum(n for s, n in logins.statuses.items() if s not in (200, 503))
        self.results.add_errors("flood_login", other_statuses + logins.socket_errors)
        show(
            "flood_login",
            f"{logins.good_per_second:,.1f} req/s, p99 {logins.p99_ms:,.1f} ms, "
            f"{registered:,.1f} registrations/s "
            f"(statuses: {dict(sorted(flood.statuses.items()))})",
            logins,
        )

    def crowd(self, run: int) -> None:
        """The same logins while CROWD_CONNECTIONS failing logins from 5 addresses keep the
        login queue full (docs/contract.md, Hardening: a user cannot be crowded out)."""
        crowd = Load(
            self.server.url + "/token",
            self.profile.login,
            CROWD_CONNECTIONS,
            script="crowd.lua",
            script_args=(f"198.18.{run}.",),
            timeout_seconds=LOGIN_TIMEOUT_SECONDS,
        )
        logins, failing = self.run(self.login_load(self.profile.login), crowd)
        self.results.add("crowd_login", logins.good_per_second, logins.p99_ms)
        other_statuses = sum(n for s, n in logins.statuses.items() if s != 200)
        self.results.add_errors("crowd_login", other_statuses + logins.socket_errors)
        show(
            "crowd_login",
            f"{logins.good_per_second:,.1f} req/s, p99 {logins.p99_ms:,.1f} ms "
            f"(crowd statuses: {dict(sorted(failing.statuses.items()))})",
            logins,
        )

    def scale(self) -> None:
        """bearer and login again, once the tables hold SCALE_ROWS users and sessions."""
        print(f"seeding {database.SCALE_ROWS:,} users and sessions with SQL")
        database.seed_scale(BCRYPT_ROUNDS)
        self.rounds(
            {
                "scale_bearer": self.http_load("/users/me", "bearer", self.profile.http),
                "scale_login": self.login_load(self.profile.login),
            }
        )

    def storm(self) -> None:
        """64 connections logging in while bearer traffic runs and a probe watches /health."""
        seconds = self.profile.storm
        for _ in range(self.profile.runs):
            logins, bearer, probe = self.run(
                self.login_load(seconds, STORM_CONNECTIONS),
                self.http_load("/users/me", "bearer", seconds),
                Load(self.server.url + "/health", seconds, PROBE_CONNECTIONS, script="probe.lua"),
            )
            turned_away = logins.statuses.get(503, 0)
            self.results.add("storm_bearer", bearer.good_per_second, bearer.p99_ms)
            self.results.add("storm_health_p99", probe.p99_ms)
            self.results.add("storm_login_p99", logins.p99_ms)
            self.results.add("storm_turned_away", turned_away)
            other_statuses = sum(n for s, n in logins.statuses.items() if s not in (200, 503))
            self.results.add_errors("storm_login", other_statuses + logins.socket_errors)
            self.results.add_errors("storm_bearer", bearer.errors)
            self.results.add_errors("storm_health", probe.errors)
            show(
                "storm",
                f"bearer {bearer.good_per_second:,.0f} req/s, /health p99 {probe.p99_ms:.1f} ms, "
                f"login p99 {logins.p99_ms:,.0f} ms, {turned_away} of {logins.requests} "
                "logins turned away",
                bearer,
            )

    def siege(self) -> None:
        """A probe on /health while 1,000 connections sit in unfinished request heads and one
        sends a 100 MB header."""
        for _ in range(self.profile.runs):
            self.server.wait_until_idle()
            probe_load = Load(
                self.server.url + "/health",
                self.profile.storm,
                PROBE_CONNECTIONS,
                script="probe.lua",
            )
            with siege.besieging(self.server.url, SIEGE_IDLE_CONNECTIONS, SIEGE_HEADER_BYTES):
                (probe,) = loadgen.run_together(self.wrk, [probe_load])
            self.results.add("siege_health_p99", probe.p99_ms)
            self.results.add_errors("siege_health", probe.errors)
            show("siege", f"/health p99 {probe.p99_ms:.1f} ms", probe)

    def reset_requests(self, prefix: str) -> None:
        """A reset request for an account with an address against one for a name that is no
        account: the answer, and the work before it, must be the same (issue 25)."""
        accounts.register_with_addresses(self.server.url, RESET_NAMES, self.users.password)
        seconds = self.profile.http
        self.rounds(
            {
                prefix + "reset_request": self.reset_load(RESET_NAMES, seconds),
                prefix + "reset_request_unknown": self.reset_load(UNKNOWN_NAMES, seconds),
            }
        )

    def soak(self) -> None:
        """Mixed traffic, in SOAK_SEGMENTS runs; the workers' resident memory before, after
        each run and after the last."""
        args = (self.token, self.users.basic_credentials)
        seconds = max(1, round(self.profile.soak / SOAK_SEGMENTS))  # wrk takes whole seconds
        load = Load(self.server.url, seconds, HTTP_CONNECTIONS, (), "soak.lua", args)
        self.server.wait_until_idle()
        self.results.rss_before_mb = self.server.worker_rss_mb()
        requests = 0
        for _ in range(SOAK_SEGMENTS):
            (result,) = loadgen.run_together(self.wrk, [load])
            requests += result.requests
            self.results.rss_during_soak_mb.append(self.server.worker_rss_mb())
            self.results.add_errors("soak", result.errors)
        self.results.rss_after_mb = self.results.rss_during_soak_mb[-1]
        steps = " | ".join(
            ", ".join(f"{mb:.1f}" for mb in sample) for sample in self.results.rss_during_soak_mb
        )
        show("soak", f"{requests:,} requests, worker RSS {self.results.rss_text()}", result)
        print(f"  {'soak RSS (MB)':<18} {steps}")

    def outage(self) -> None:
        """Cached bearer requests while PostgreSQL hangs (its proxy paused), beside the same
        with it answering; and the p99 of the 503s of requests that need it meanwhile."""
        host, port = database.host_and_port()
        seconds = self.profile.outage
        with (
            pg_proxy.PausableProxy(host, port) as proxy,
            self.serving("outage", database_url=database.url_on(proxy.port)),
        ):
            self.log_in(source="cache")
            needs_pg = Load(
                self.server.url + "/products",
                seconds,
                OUTAGE_PG_CONNECTIONS,
                (f"Authorization: {self.authorization('bearer')}",),
                script="statuses.lua",
            )
            for _ in range(self.profile.runs):
                self.measure("outage_baseline", self.http_load("/users/me", "bearer", seconds))
                self.server.wait_until_idle()
                proxy.pause()
                try:
                    bearer, products = loadgen.run_together(
                        self.wrk, [self.http_load("/users/me", "bearer", seconds), needs_pg]
                    )
                finally:
                    proxy.resume()
                self.results.add("outage_bearer", bearer.good_per_second, bearer.p99_ms)
                self.results.add("outage_503_p99", products.p99_ms)
                self.results.add_errors("outage_bearer", bearer.errors)
                not_503 = sum(n for s, n in products.statuses.items() if s != 503)
                self.results.add_errors("outage_needs_pg", not_503 + products.socket_errors)
                statuses = dict(sorted(products.statuses.items()))
                show(
                    "outage",
                    f"bearer {bearer.good_per_second:,.0f} req/s, /products p99 "
                    f"{products.p99_ms:,.0f} ms (statuses: {statuses})",
                    bearer,
                )


def show(name: str, text: str, result: loadgen.WrkRun) -> None:
    errors = ""
    if result.errors:
        errors = f" (errors: {result.non_2xx} non-2xx, {result.socket_errors} socket)"
    print(f"  {name:<18} {text}{errors}")


def run_everything(bench: Bench) -> None:
    print("\npreparing the database: drop, migrate, demo products; emptying Redis database 12")
    database.drop_database()
    keygate("migrate", env=bench.env())
    keygate("demo", env=bench.env())
    with redis.Redis.from_url(REDIS_URL) as client:
        client.flushdb()

    with bench.serving("cached"), bench.serving_bare():
        accounts.register(bench.server.url, bench.users)
        bench.log_in(source="cache")
        bench.http_figures()
        bench.pg_statements()  # while the tables are too small for autovacuum to visit them
        bench.login()
        bench.scale()  # right after the figures it is compared to
        bench.storm()
        bench.siege()
        bench.soak()

    bench.outage()

    with bench.serving("nocache", cache_ttl_seconds=0):
        bench.log_in(source="db")
        bench.http_figures("nocache_", ("bearer", "basic"))

    for prefix, delay in (("", 0.0), ("slow_mail_", SLOW_MAIL_SECONDS)):
        with MailSink(delay) as sink, bench.serving(f"{prefix}reset", smtp_url=sink.url):
            bench.reset_requests(prefix)


def machine_info(wrk: str) -> dict[str, Any]:
    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git("rev-parse", "--short", "HEAD")
        + ("+changes" if git("status", "--porcelain") else ""),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "wrk": loadgen.version(wrk),
        "load_before": load_average(),
    }


def load_average() -> float:
    """The machine's one-minute load average: how much else was running."""
    return round(os.getloadavg()[0], 2)


def stop_on_sigterm(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few seconds a figure")
    parser.add_argument(
        "--soak-minutes",
        type=float,
        default=None,
        help="how long the soak runs (default: 1 min, 5 s with --quick)",
    )
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL
    if args.soak_minutes is not None:
        profile = replace(profile, soak=args.soak_minutes * 60)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    if find_spec("matplotlib") is None:
        sys.exit("bench: matplotlib is missing: run `uv run --group bench python bench/run.py`")
    wrk = loadgen.ensure_wrk()
    minutes = (profile.load_seconds() + OVERHEAD_SECONDS) / 60
    print(f"keygate benchmark, {profile.name} mode: about {minutes:.0f} min")

    started = time.monotonic()
    results = Results(profile.name, machine_info(wrk))
    bench = Bench(wrk, profile, results)
    try:
        run_everything(bench)
    except KeyboardInterrupt:
        sys.exit("\nbench: interrupted; everything it started is stopped")
    except (accounts.ApiError, loadgen.WrkError, ServerError, OSError, redis.RedisError) as exc:
        sys.exit(f"bench: {exc}\n(keygate's output: {LOG_DIR.relative_to(ROOT)}/)")
    results.elapsed_seconds = time.monotonic() - started
    results.machine["load_after"] = load_average()
    text = report.write(results, check_targets(results))
    print("\n" + text)
    written = sorted(report.RESULTS_DIR.glob("latest.*"))
    print("written:", ", ".join(str(path.relative_to(ROOT)) for path in written))


if __name__ == "__main__":
    main()
