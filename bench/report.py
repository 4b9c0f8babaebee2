"""latest.json, latest.md (the table the README shows) and latest.png (its chart)."""

import json
import math
from pathlib import Path
from typing import Final

from figures import RATIO_TARGETS, Figure, Results, Target

RESULTS_DIR: Final = Path(__file__).resolve().parent / "results"
LABELS: Final = {
    "bare": "bare FastAPI",
    "plain": "plain",
    "bearer": "bearer",
    "basic": "basic",
    "products": "products",
    "products_basic": "products, basic",
    "nocache_bearer": "bearer, no cache",
    "nocache_basic": "basic, no cache",
    "raw_bcrypt": "raw bcrypt",
    "login": "login",
    "flood_login": "login in flood",
    "flood_registrations": "registrations in flood",
    "storm_bearer": "bearer in storm",
    "storm_health_p99": "/health p99 in storm",
    "storm_login_p99": "login p99 in storm",
    "storm_turned_away": "logins turned away",
    "siege_health_p99": "/health p99 in siege",
    "crowd_login": "login in a failing crowd",
    "outage_baseline": "bearer, PostgreSQL proxied",
    "outage_bearer": "bearer, PostgreSQL hung",
    "outage_503_p99": "503 p99, PostgreSQL hung",
    "scale_bearer": "bearer at scale",
    "scale_login": "login at scale",
    "reset_request_unknown": "reset, no account",
    "reset_request": "reset, account",
    "slow_mail_reset_request_unknown": "reset, no account, slow mail",
    "slow_mail_reset_request": "reset, account, slow mail",
}


def amount(value: float, unit: str) -> str:
    if math.isnan(value):
        return ""
    if unit == "logins":
        return f"{value:.0f}"
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def figure_row(name: str, figure: Figure, results: Results) -> str:
    ratio = results.ratio(name)
    ratio_cell = "" if math.isnan(ratio) else f"{ratio:.2f} ({figure.baseline})"
    unit = figure.unit
    cells = [
        f"`{name}`",
        figure.what,
        ratio_cell,
        f"{amount(figure.median, unit)}{' ' + unit if unit == 'req/s' else ''}",
        f"{amount(min(figure.values, default=math.nan), unit)}",
        f"{amount(max(figure.values, default=math.nan), unit)}",
        amount(figure.p99_median, "ms"),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(results: Results, targets: list[Target]) -> str:
    machine = results.machine
    runs = len(results.figures["plain"].values)
    met = sum(target.met for target in targets)
    lines = [
        f"keygate benchmark, {results.mode} mode, {machine['date']}, commit "
        f"{machine['commit']}: {machine['cpus']} CPUs ({machine['cpu_model']}), load average "
        f"{machine['load_before']} before and {machine['load_after']} after, "
        f"{results.elapsed_seconds / 60:.1f} min. Each figure is the median of {runs} runs "
        "(min and max beside it), its ratio taken to the median of its baseline in this run.",
        "",
        "| figure | what | ratio (to) | median | min | max | p99 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        *(figure_row(name, figure, results) for name, figure in results.figures.items()),
        "",
        f"Targets: {met} of {len(targets)} met.",
        "",
        "| target | goal | measured | |",
        "| --- | --- | ---: | --- |",
        *(
            f"| {t.what} | {t.goal} | {t.measured} | {'pass' if t.met else '**FAIL**'} |"
            for t in targets
        ),
        "",
        f"Worker RSS before and after the soak: {results.rss_text()}. PostgreSQL statements "
        "are counted as transactions of keygate's database in `pg_stat_database`: each "
        "statement outside a transaction is one, and so is the reset a pool runs on a "
        "connection it takes back. In the storm, a client turned away waits as long as "
        "Retry-After says before it tries again.",
    ]
    return "\n".join(lines) + "\n"


def chart(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = results.figures
    compared = [n for n, f in figures.items() if f.baseline not in (None, n)]
    throughput = [n for n, f in figures.items() if f.unit == "req/s" and f.values]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6), layout="constrained")

    ratios = [results.ratio(n) for n in compared]
    colours = [
        "tab:gray"
        if n not in RATIO_TARGETS
        else "tab:green"
        if r >= RATIO_TARGETS[n]
        else "tab:red"
        for n, r in zip(compared, ratios, strict=True)
    ]
    rows = range(len(compared))
    bars = left.barh(rows, [0 if math.isnan(r) else r for r in ratios], color=colours)
    left.bar_label(bars, [f"{r:.2f}" for r in ratios], padding=3)
    left.set_yticks(rows, [f"{LABELS[n]} / {LABELS[figures[n].baseline or n]}" for n in compared])
    for row, name in enumerate(compared):
        if name in RATIO_TARGETS:
            left.plot([RATIO_TARGETS[name]] * 2, [row - 0.4, row + 0.4], color="black", lw=2)
    left.invert_yaxis()
    left.set_xlabel("ratio of medians (black bar: target; green met, red not)")
    left.set_title("Ratios")

    medians = [figures[n].median for n in throughput]
    whiskers = [
        [m - min(figures[n].values) for n, m in zip(throughput, medians, strict=True)],
        [max(figures[n].values) - m for n, m in zip(throughput, medians, strict=True)],
    ]
    rows = range(len(throughput))
    right.barh(rows, medians, xerr=whiskers, color="tab:blue", capsize=3)
    right.set_yticks(rows, [LABELS[n] for n in throughput])
    right.set_xscale("log")
    right.invert_yaxis()
    right.set_xlabel("a second (log scale); whiskers: min to max")
    right.set_title("Absolute")

    machine = results.machine
    fig.suptitle(
        f"keygate benchmark ({results.mode} mode, {machine['date']}, {machine['cpus']} CPUs, "
        f"commit {machine['commit']})"
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: Results, targets: list[Target]) -> str:
    """Writes the three files and returns the Markdown."""
    RESULTS_DIR.mkdir(exist_ok=True)
    data = results.to_dict() | {
        "targets": [
            {"what": t.what, "goal": t.goal, "measured": t.measured, "met": t.met} for t in targets
        ]
    }
    (RESULTS_DIR / "latest.json").write_text(json.dumps(data, indent=2) + "\n")
    text = markdown(results, targets)
    (RESULTS_DIR / "latest.md").write_text(text)
    chart(results, RESULTS_DIR / "latest.png")
    return text
