"""The read commands of the CLI: `experiments`, `runs`, `show` and `artifacts`."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autolog import _tags
from autolog._cli.main import add_command, positive_int, resolve_run
from autolog._cli.output import note, write_json, write_lines
from autolog._cli.progress import ProgressLine
from autolog._cli.runs_columns import parse_columns
from autolog._cli.runs_table import SYSTEM_TAG_PREFIX, runs_table
from autolog._cli.table import (
    Charset,
    Column,
    TreeNode,
    charset_for,
    fit_columns,
    format_duration,
    format_number,
    format_size,
    format_time,
    key_value_lines,
    render_table,
    render_tree,
    terminal_width,
)
from autolog._entities import Run, RunStatus
from autolog._patching.seeds import UNSEEDED_TAG
from autolog._tracking.api import (
    count_runs,
    download_with_progress,
    get_metric_history,
    get_run,
    list_artifacts,
    list_experiments,
    search_runs,
)
from autolog._tracking.settings import tracking
from autolog.errors import ArtifactNotFoundError, RunNotFoundError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["register"]

DEFAULT_MAX_RESULTS = 100

_RUNS_EPILOG = """\
examples:
  autolog runs --experiment housing --filter "metrics.rmse < 0.5 and params.model LIKE 'xgb%'"
  autolog runs --order-by "metrics.rmse ASC" --max-results 10
  autolog runs --columns 'metrics.*_X_test,params.C,status'
  autolog runs --columns '+params.max_depth,tags.team'
  autolog runs --status failed --json

default columns: the metrics that tell most about each run listed (metrics computed
on held-out data such as accuracy_score_X_test first, then validation and
cross-validation scores such as best_cv_score, metrics you logged, training
metrics), then the params whose values differ between the runs. Params and metrics
named in --filter and --order-by come first. A line on stderr says how many columns
were left out.

--columns ITEM,ITEM,... lists the columns instead (after the run id and name, which
lead unless listed), or adds them to the default ones when it starts with '+'. An
ITEM is params.KEY, metrics.KEY or tags.KEY, where KEY may be a glob (metrics.*,
params.clf__*; quote a key holding a comma in backticks), or an attribute: id,
name, status, start_time, end_time, duration, experiment, experiment_id, parent_id.
"""


def register(subparsers: Subparsers) -> None:
    """Add the `experiments`, `runs`, `show` and `artifacts` commands."""
    p = add_command(
        subparsers, "experiments", _experiments, help="list experiments and their number of runs"
    )
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")

    p = add_command(
        subparsers, "runs", _runs, help="list runs as a table, newest first", epilog=_RUNS_EPILOG
    )
    p.add_argument(
        "--experiment",
        "-e",
        action="append",
        metavar="NAME",
        help="only this experiment (repeat for several)",
    )
    p.add_argument("--filter", "-f", metavar="EXPR", help='e.g. "metrics.rmse < 0.5"')
    p.add_argument(
        "--order-by",
        "-o",
        action="extend",
        nargs="+",
        metavar="CLAUSE",
        help='e.g. "metrics.rmse ASC" (several are applied in turn)',
    )
    p.add_argument(
        "--max-results",
        "-n",
        type=positive_int,
        metavar="N",
        help=f"show at most N runs (default {DEFAULT_MAX_RESULTS})",
    )
    p.add_argument(
        "--status",
        type=str.upper,
        choices=[s.value for s in RunStatus],
        help="only runs with this status",
    )
    p.add_argument(
        "--columns",
        "-c",
        action="append",
        metavar="ITEMS",
        help="the table's columns, e.g. 'metrics.*_X_test,params.C,status';"
        " a leading '+' adds them to the default columns (see below; not for --json)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of runs")

    p = add_command(
        subparsers,
        "show",
        _show,
        help="show everything about one run",
        description="Show a run: status, times, parent and children, params, metrics, tags"
        " and artifacts.",
    )
    p.add_argument("run", metavar="RUN", help="a run id, or a unique prefix of 6+ characters")
    p.add_argument("--json", action="store_true", help="print the run as JSON")

    p = add_command(subparsers, "artifacts", _artifacts, help="list or download a run's artifacts")
    p.add_argument("run", metavar="RUN", help="a run id, or a unique prefix of 6+ characters")
    p.add_argument("path", metavar="PATH", nargs="?", default="", help="an artifact file or folder")
    p.add_argument("--download", "-d", metavar="DIR", help="copy the artifacts into DIR")
    p.add_argument(
        "--progress",
        action="store_true",
        help="show download progress on stderr (the default when stderr is a terminal)",
    )
    p.add_argument("--json", action="store_true", help="print the file list as JSON")


def _store() -> str:
    return tracking.backend().uri


# -- experiments ---------------------------------------------------------------------------


def _experiments(args: argparse.Namespace) -> int:
    experiments = list_experiments()
    counts = Counter(count_runs())
    if args.json:
        write_json(
            [
                {
                    "id": e.id,
                    "name": e.name,
                    "created_at": e.created_at,
                    "tags": e.tags,
                    "runs": counts[e.id],
                }
                for e in experiments
            ]
        )
        return 0
    if not experiments:
        note(f"no experiments in {_store()}")
        return 0
    charset = charset_for(sys.stdout)
    columns = [
        Column("ID", cells=[e.id for e in experiments]),
        Column("NAME", max_width=60, soft_min=12, min_width=8, cells=[e.name for e in experiments]),
        Column("CREATED", drop=1, cells=[format_time(e.created_at) for e in experiments]),
        Column("RUNS", align=">", cells=[str(counts[e.id]) for e in experiments]),
    ]
    write_lines(render_table(columns, terminal_width(), charset))
    return 0


# -- runs ----------------------------------------------------------------------------------


def _runs(args: argparse.Namespace) -> int:
    columns = parse_columns(args.columns) if args.columns else None  # bad input: before reading
    limit = args.max_results or DEFAULT_MAX_RESULTS
    order_by = _join_directions(args.order_by or [])
    runs = search_runs(
        experiment=args.experiment,
        filter=args.filter,
        order_by=order_by,
        status=args.status,
        max_results=limit + 1,
    )
    if len(runs) > limit:
        runs = runs[:limit]
        if args.max_results is None:
            total = sum(
                count_runs(
                    experiment=args.experiment, filter=args.filter, status=args.status
                ).values()
            )
            note(f"showing {limit} of {total} runs; use --max-results N to see more")
    if args.json:
        write_json([run.to_dict() for run in runs])
        return 0
    if not runs:
        what = "runs match" if args.filter or args.status or args.experiment else "runs"
        note(f"no {what} in {_store()}")
        return 0
    mentioned = " ".join([args.filter or "", *order_by])
    charset = charset_for(sys.stdout)
    table = runs_table(runs, mentioned, charset, columns)
    for message in table.unmatched:
        note(message)
    width = terminal_width()
    write_lines(render_table(table.columns, width, charset))
    footer = table.footer(cut=len(table.columns) - len(fit_columns(table.columns, width)))
    if footer:
        note(footer)
    return 0


def _join_directions(clauses: Sequence[str]) -> list[str]:
    """Rejoin `--order-by metrics.rmse desc` (ASC/DESC split off by the shell) to its key."""
    out: list[str] = []
    for clause in clauses:
        if out and clause.strip().upper() in ("ASC", "DESC"):
            out[-1] = f"{out[-1]} {clause.strip()}"
        else:
            out.append(clause)
    return out


# -- show ----------------------------------------------------------------------------------


def _show(args: argparse.Namespace) -> int:
    run = resolve_run(args.run)
    children = search_runs(filter=f"parent_id = '{run.id}'", order_by=["start_time ASC"])
    points = {key: len(get_metric_history(run.id, key)) for key in run.metrics}
    nodes = _artifact_nodes(run.id, "")
    if args.json:
        data = run.to_dict()
        data["duration"] = run.duration
        data["children"] = [child.id for child in children]
        data["metric_points"] = points
        data["artifacts"] = _flat_files(nodes)
        data["inputs"] = run.inputs
        write_json(data)
        return 0
    charset = charset_for(sys.stdout)
    write_lines(show_lines(run, children, points, nodes, charset))
    return 0


def show_lines(
    run: Run,
    children: Sequence[Run],
    points: Mapping[str, int],
    nodes: Sequence[TreeNode],
    charset: Charset,
) -> list[str]:
    """The text of `autolog show`: a header block, then one section per kind of data."""
    head = [
        ("Run", run.id),
        ("Name", run.name),
        ("Experiment", f"{run.experiment}  (id {run.experiment_id})"),
        ("Status", run.status.value),
        ("Start", format_time(run.start_time)),
        ("End", format_time(run.end_time)),
        ("Duration", format_duration(run.duration)),
    ]
    if run.parent_id:
        try:
            parent = f"{run.parent_id}  ({get_run(run.parent_id).name})"
        except RunNotFoundError:
            parent = f"{run.parent_id}  (not in this store)"
        head.append(("Parent", parent))
    if _tags.ERROR in run.tags:
        head.append(("Error", run.tags[_tags.ERROR]))
    if UNSEEDED_TAG in run.tags:
        head.append(("Warning", f"left to chance, may not reproduce: {run.tags[UNSEEDED_TAG]}"))
    lines = key_value_lines(head)

    def section(title: str, count: int, body: list[str], unit: str = "") -> None:
        lines.append("")
        lines.append(f"{title} ({unit or count})" if count else f"{title}: none")
        lines.extend(body)

    width = terminal_width()
    kids = [
        Column("RUN ID", cells=[c.id for c in children]),
        Column("NAME", max_width=40, soft_min=16, min_width=8, cells=[c.name for c in children]),
        Column("STATUS", cells=[c.status.value for c in children]),
        Column("DURATION", drop=1, cells=[format_duration(c.duration) for c in children]),
    ]
    table = render_table(kids, width - 2 if width else None, charset)[1:] if children else []
    section("Child runs", len(children), ["  " + line for line in table])
    inputs = run.inputs
    section("Inputs", len(inputs), key_value_lines([_input_row(i) for i in inputs], "  "))
    section("Params", len(run.params), key_value_lines(sorted(run.params.items()), "  "))
    values = {key: format_number(value, 6) for key, value in run.metrics.items()}
    value_width = max((len(v) for v in values.values()), default=0)
    metric_rows = [
        (key, f"{values[key].rjust(value_width)}  ({n} point{'s' if n != 1 else ''})")
        for key in sorted(run.metrics)
        for n in [points.get(key, 0)]
    ]
    section("Metrics", len(metric_rows), key_value_lines(metric_rows, "  "))
    user = sorted((k, v) for k, v in run.tags.items() if not k.startswith(SYSTEM_TAG_PREFIX))
    system = sorted(
        (k, v)
        for k, v in run.tags.items()
        if k.startswith(SYSTEM_TAG_PREFIX) and not k.startswith(_tags.INPUT_PREFIX)
    )
    section("Tags", len(user), key_value_lines(user, "  "))
    section("System tags", len(system), key_value_lines(system, "  "))
    files, size = TreeNode("", children=list(nodes)).total()
    summary = f"{files} file{'s' if files != 1 else ''}, {format_size(size)}"
    section("Artifacts", files, render_tree(nodes, charset, "  "), summary)
    return lines


def _input_row(found: Mapping[str, Any]) -> tuple[str, str]:
    """`name`, then role, kind and shape, and the fingerprint (`-` where it was not taken)."""
    shape = found.get("shape")
    size = "x".join(str(n) for n in shape) if isinstance(shape, list) else "?"
    kind, digest = found.get("kind") or "?", found.get("hash") or "-"
    return str(found["name"]), f"{found.get('role', '?')}  {kind} {size}  {digest}"


# -- artifacts -----------------------------------------------------------------------------


def _artifact_nodes(run_id: str, path: str) -> list[TreeNode]:
    """The artifacts under `path` as a tree (a one-node list when `path` is a file)."""
    nodes: list[TreeNode] = []
    for info in list_artifacts(run_id, path):
        name = info.path.rsplit("/", 1)[-1]
        if info.is_dir:
            nodes.append(TreeNode(name, children=_artifact_nodes(run_id, info.path)))
        else:
            nodes.append(TreeNode(name, size=info.size))
    return nodes


def _flat_files(nodes: Sequence[TreeNode], base: str = "") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for node in nodes:
        path = f"{base}/{node.name}" if base else node.name
        if node.children is None:
            out.append({"path": path, "size": node.size})
        else:
            out.extend(_flat_files(node.children, path))
    return out


def _artifacts(args: argparse.Namespace) -> int:
    run = resolve_run(args.run)
    path = args.path.rstrip("/")
    infos = list_artifacts(run.id, path)
    if path and not infos:
        raise ArtifactNotFoundError(
            f"run {run.id} has no artifact {args.path!r}; list them with"
            f" `autolog artifacts {run.id}`"
        )
    if path and len(infos) == 1 and not infos[0].is_dir and infos[0].path == path:
        nodes = [TreeNode(path, size=infos[0].size)]
    elif path:
        # A folder is listed as the root of its tree, so the output says what was asked for.
        nodes = [TreeNode(path, children=_artifact_nodes(run.id, path))]
    else:
        nodes = _artifact_nodes(run.id, "")
    files, size = TreeNode("", children=nodes).total()
    if args.download is not None:
        show = files and (args.progress or sys.stderr.isatty())
        line = ProgressLine(files, size) if show else None
        try:
            local = download_with_progress(run.id, path, args.download, line).resolve()
        finally:
            if line is not None:
                line.finish()
        if args.json:
            write_json(
                {
                    "run": run.id,
                    "path": path,
                    "local_path": str(local),
                    "files": files,
                    "size": size,
                }
            )
        elif files:
            noun = "file" if files == 1 else "files"
            write_lines(
                f"Downloaded {files} {noun} ({format_size(size)}) of run {run.id} to {local}"
            )
        else:
            note(f"run {run.id} has no artifacts; created the empty folder {local}")
        return 0
    if args.json:
        write_json(_flat_files(nodes))
        return 0
    if not nodes:
        note(f"run {run.id} has no artifacts")
        return 0
    write_lines(render_tree(nodes, charset_for(sys.stdout)))
    return 0
