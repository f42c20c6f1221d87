"""What turning autologging on costs: `import autolog` + `autolog.enable()` against MLflow's.

    .venv/bin/python bench/import_time.py                # 9 fresh interpreters per tool
    .venv/bin/python bench/import_time.py --repeats 21

Each measurement is a fresh interpreter that times, inside itself, the import and then
the switch (`autolog.enable()`; `mlflow.autolog()`), so the interpreter's own start is
left out. The tools take turns so that a change of machine load hits them alike; the
table shows medians. Bytecode is cached as for an installed package: the children run
with PYTHONDONTWRITEBYTECODE unset, after one unmeasured warm-up run each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

TOOLS = {
    "autolog": ("import autolog", "autolog.enable()"),
    "mlflow": ("import mlflow", "mlflow.autolog()"),
}

_CHILD = """
import sys, time, json, logging, warnings
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
start = time.perf_counter()
{imp}
imported = time.perf_counter()
{switch}
done = time.perf_counter()
print(json.dumps({{"import": imported - start, "enable": done - imported,
                   "modules": len(sys.modules), "asyncio": "asyncio" in sys.modules}}))
"""


def measure(tool: str) -> dict[str, float]:
    imp, switch = TOOLS[tool]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(imp=imp, switch=switch)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def available(tool: str) -> bool:
    probe = subprocess.run([sys.executable, "-c", f"import {tool}"], capture_output=True)
    return probe.returncode == 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="interpreters per tool")
    args = parser.parse_args(argv)
    tools = [t for t in TOOLS if available(t)]
    for tool in tools:
        measure(tool)  # warm the bytecode cache
    found: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
    for _ in range(args.repeats):
        for tool in tools:
            found[tool].append(measure(tool))
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.1f}; median of {args.repeats} fresh interpreters"
    )
    rows = []
    medians: dict[str, tuple[float, float]] = {}
    for tool, runs in found.items():
        imp = statistics.median(r["import"] for r in runs)
        total = statistics.median(r["import"] + r["enable"] for r in runs)
        medians[tool] = (imp, total)
        imp_text, switch_text = TOOLS[tool]
        rows.append(
            [
                tool,
                f"{imp * 1000:.1f} ms",
                f"{total * 1000:.1f} ms",
                f"{statistics.median(r['modules'] for r in runs):.0f}",
                "yes" if any(r["asyncio"] for r in runs) else "no",
                f"{imp_text}; {switch_text}",
            ]
        )
    header = ["tool", "import", "import + enable", "modules", "asyncio", "what"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    if "mlflow" in medians and "autolog" in medians:
        (a_imp, a_total), (m_imp, m_total) = medians["autolog"], medians["mlflow"]
        print(
            f"ratio autolog/MLflow: import {a_imp / m_imp:.4f} (1/{m_imp / a_imp:.0f}),"
            f" import + enable {a_total / m_total:.4f} (1/{m_total / a_total:.0f});"
            " target <= 1/50"
        )


if __name__ == "__main__":
    main()
