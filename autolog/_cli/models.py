"""`autolog models ...`: the model registry from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from autolog._cli.main import add_command, resolve_run
from autolog._cli.output import note, write_json, write_lines, write_table
from autolog._cli.table import (
    Column,
    charset_for,
    format_number,
    format_time,
    key_value_lines,
    one_line,
    render_table,
    terminal_width,
)
from autolog._models.uris import parse_runs_uri
from autolog._registry import api as registry
from autolog._registry.entities import ModelEvent, ModelVersion, RegisteredModel
from autolog._tracking.settings import tracking
from autolog.errors import InvalidKeyError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["describe_event", "register"]

_EPILOG = """\
examples:
  autolog models register runs:/3f2a9c/model churn --tag team=risk
  autolog models alias churn production 3 --comment "beats v2 on March data"
  autolog models show churn --version 3
  autolog models history churn
  autolog models delete churn --version 1

Aliases are what serving code loads: autolog.load_model("models:/churn@production").
"""


def register(subparsers: Subparsers) -> None:
    """Add `autolog models` and its commands."""
    group = add_command(
        subparsers,
        "models",
        lambda args: _usage(group),
        help="the model registry: versions, aliases, tags and history",
        epilog=_EPILOG,
    )
    sub = group.add_subparsers(title="model commands", metavar="COMMAND")

    p = add_command(sub, "list", _list, help="list registered models")
    p.add_argument("--name", metavar="PATTERN", help="a name pattern: %% any text, _ one char")
    p.add_argument("--tag", action="append", type=_tag_filter, metavar="KEY[=VALUE]")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = add_command(sub, "show", _show, help="show a registered model, or one of its versions")
    p.add_argument("name", metavar="NAME")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--version", "-v", metavar="V", help="a version number or 'latest'")
    which.add_argument("--alias", "-a", metavar="ALIAS", help="the version an alias points at")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add_command(sub, "register", _register, help="register a run's model as a new version")
    p.add_argument("uri", metavar="RUN_URI", help="runs:/<run id or 6+ char prefix>/<path>")
    p.add_argument("name", metavar="NAME", help="the registered model (created if needed)")
    p.add_argument("--tag", action="append", type=_tag_pair, metavar="KEY=VALUE")
    p.add_argument("--description", "-d", metavar="TEXT")

    p = add_command(sub, "alias", _alias, help="point an alias at a version (or --delete it)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("alias", metavar="ALIAS", help="e.g. production or champion")
    p.add_argument("version", metavar="VERSION", nargs="?", help="a number or 'latest'")
    p.add_argument("--delete", action="store_true", help="remove the alias")
    p.add_argument("--comment", "-m", metavar="TEXT", help="why: kept in the history")

    p = add_command(sub, "tag", _tag, help="set (or --delete) a tag of a model or a version")
    p.add_argument("name", metavar="NAME")
    p.add_argument("key", metavar="KEY")
    p.add_argument("value", metavar="VALUE", nargs="?")
    p.add_argument("--version", "-v", metavar="V", help="tag this version, not the model")
    p.add_argument("--delete", action="store_true", help="remove the tag")

    p = add_command(sub, "describe", _describe, help="set the description of a model or version")
    p.add_argument("name", metavar="NAME")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--version", "-v", metavar="V", help="describe this version, not the model")

    p = add_command(sub, "history", _history, help="every alias move and edit, oldest first")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print a JSON list of events")

    p = add_command(sub, "delete", _delete, help="delete a version, or a whole registered model")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--version", "-v", metavar="V", help="delete only this version")
    p.add_argument("--force", action="store_true", help="also delete aliases pointing at it")
    p.add_argument("--comment", "-m", metavar="TEXT", help="why: kept in the history")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _tag_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def _tag_filter(text: str) -> tuple[str, str | None]:
    key, sep, value = text.partition("=")
    return key, value if sep else None


def _aliases_text(aliases: dict[str, int]) -> str:
    return ", ".join(f"{a} -> {v}" for a, v in aliases.items()) or "-"


# -- list and show -----------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    tags = dict(args.tag) if args.tag else None
    models = registry.search_registered_models(name_like=args.name, tags=tags)
    if args.json:
        write_json([m.to_dict() for m in models])
        return 0
    if not models:
        what = "registered models match" if args.name or args.tag else "registered models"
        note(f"no {what} in {tracking.backend().uri}")
        return 0
    columns = [
        Column("NAME", max_width=48, soft_min=12, min_width=8, cells=[m.name for m in models]),
        Column("VERSIONS", align=">", cells=[str(len(m.versions)) for m in models]),
        Column("LATEST", align=">", cells=[str(m.latest_version or "-") for m in models]),
        Column(
            "ALIASES",
            max_width=40,
            soft_min=10,
            min_width=6,
            drop=3,
            cells=[_aliases_text(m.aliases) for m in models],
        ),
        Column("UPDATED", drop=2, cells=[format_time(m.updated_at) for m in models]),
        Column(
            "DESCRIPTION",
            max_width=50,
            soft_min=12,
            min_width=6,
            drop=1,
            cells=[m.description or "-" for m in models],
        ),
    ]
    write_table(columns)
    return 0


def _show(args: argparse.Namespace) -> int:
    if args.version is not None or args.alias is not None:
        mv = (
            registry.get_model_version_by_alias(args.name, args.alias)
            if args.alias is not None
            else registry.get_model_version(args.name, args.version)
        )
        if args.json:
            write_json(mv.to_dict())
        else:
            write_lines(version_lines(mv))
        return 0
    model = registry.get_registered_model(args.name)
    versions = registry.search_model_versions(args.name)
    if args.json:
        write_json({**model.to_dict(), "version_details": [v.to_dict() for v in versions]})
        return 0
    write_lines(model_lines(model, versions))
    return 0


def model_lines(model: RegisteredModel, versions: Sequence[ModelVersion]) -> list[str]:
    """The text of `autolog models show NAME`: the model, then a table of its versions."""
    lines = key_value_lines(
        [
            ("Model", model.name),
            ("Created", f"{format_time(model.created_at)} by {model.creator or '?'}"),
            ("Updated", format_time(model.updated_at)),
            ("Description", model.description or "-"),
            ("Aliases", _aliases_text(model.aliases)),
            ("Tags", ", ".join(f"{k}={v}" for k, v in sorted(model.tags.items())) or "-"),
        ]
    )
    lines += ["", f"Versions ({len(versions)})" if versions else "Versions: none"]
    if versions:
        width = terminal_width()
        metric = _headline_metric(versions)
        columns = [
            Column("VERSION", align=">", cells=[str(v.version) for v in versions]),
            Column(
                "ALIASES",
                max_width=30,
                soft_min=8,
                min_width=4,
                cells=[", ".join(v.aliases) or "-" for v in versions],
            ),
            Column("CREATED", drop=3, cells=[format_time(v.created_at) for v in versions]),
            Column("BY", drop=4, max_width=16, cells=[v.creator or "?" for v in versions]),
            Column("RUN", drop=2, cells=[v.run_id[:12] for v in versions]),
            Column(
                "PATH",
                drop=5,
                max_width=24,
                soft_min=6,
                min_width=4,
                cells=[v.artifact_path for v in versions],
            ),
        ]
        if metric:
            cells = [v.lineage.get("metrics", {}).get(metric) for v in versions]
            columns.append(
                Column(
                    metric,
                    align=">",
                    drop=1,
                    max_width=16,
                    cells=["-" if c is None else format_number(float(c)) for c in cells],
                )
            )
        columns.append(
            Column(
                "DESCRIPTION",
                max_width=40,
                soft_min=8,
                min_width=4,
                drop=6,
                cells=[v.description or "-" for v in versions],
            )
        )
        table = render_table(columns, width - 2 if width else None, charset_for(sys.stdout))
        lines += ["  " + line for line in table]
    return lines


def _headline_metric(versions: Sequence[ModelVersion]) -> str | None:
    # The metric most versions recorded at registration, so that versions compare at a glance.
    counts: dict[str, int] = {}
    for v in versions:
        for key in v.lineage.get("metrics", {}):
            counts[key] = counts.get(key, 0) + 1
    return min(counts, key=lambda k: (-counts[k], k)) if counts else None


def version_lines(mv: ModelVersion) -> list[str]:
    """The text of `autolog models show NAME --version V`: the version and its lineage."""
    lin = mv.lineage
    head = [
        ("Model", f"{mv.name}  version {mv.version}"),
        ("URI", mv.uri),
        ("Source", mv.source),
        ("Created", f"{format_time(mv.created_at)} by {mv.creator or '?'}"),
        ("Aliases", ", ".join(mv.aliases) or "-"),
        ("Description", mv.description or "-"),
        ("Tags", ", ".join(f"{k}={v}" for k, v in sorted(mv.tags.items())) or "-"),
    ]
    lineage = [
        ("Run", f"{lin.get('run_id', mv.run_id)}  ({lin.get('run_name', '?')})"),
        ("Experiment", str(lin.get("experiment", "?"))),
        ("Git commit", str(lin.get("git_commit") or "-")),
        ("Flavors", ", ".join(lin.get("flavors", [])) or "-"),
        ("Model class", str(lin.get("model_class") or "-")),
    ]
    libraries = lin.get("library_versions", {})
    lineage += [(f"{k} version", str(v)) for k, v in sorted(libraries.items())]
    lineage += [(k, str(v)) for k, v in sorted(lin.get("data", {}).items())]
    metrics = [(k, format_number(float(v), 6)) for k, v in sorted(lin.get("metrics", {}).items())]
    lines = key_value_lines(head)
    lines += ["", "Lineage (at registration)", *key_value_lines(lineage, "  ")]
    lines += ["", f"Metrics ({len(metrics)})" if metrics else "Metrics: none"]
    lines += key_value_lines(metrics, "  ")
    return lines


# -- changes -----------------------------------------------------------------------------------


def _register(args: argparse.Namespace) -> int:
    uri = args.uri
    if isinstance(uri, str) and uri.startswith("runs:/"):
        ref, _, path = uri[len("runs:/") :].partition("/")
        uri = f"runs:/{resolve_run(ref).id}/{path}"  # a unique id prefix is enough here
    parse_runs_uri(uri)
    mv = registry.register_model(
        uri, args.name, tags=dict(args.tag or []), description=args.description
    )
    write_lines(f"Registered {mv.name!r} version {mv.version} from {mv.source}")
    return 0


def _alias(args: argparse.Namespace) -> int:
    if args.delete:
        if args.version is not None:
            raise InvalidKeyError(
                "--delete takes no VERSION; run: autolog models alias NAME ALIAS --delete"
            )
        old = registry.get_model_version_by_alias(args.name, args.alias).version
        registry.delete_alias(args.name, args.alias, comment=args.comment)
        write_lines(f"Removed alias {args.alias!r} of {args.name!r} (it pointed at version {old})")
        return 0
    if args.version is None:
        raise InvalidKeyError(
            f"which version should {args.alias!r} point at? run: autolog models alias"
            f" {args.name} {args.alias} VERSION (or --delete to remove it)"
        )
    before = registry.get_registered_model(args.name).aliases.get(args.alias)
    mv = registry.set_alias(args.name, args.alias, args.version, comment=args.comment)
    if before is None:
        write_lines(f"{args.name}@{args.alias} -> version {mv.version}")
    elif before == mv.version:
        write_lines(
            f"{args.name}@{args.alias} already points at version {mv.version}; nothing changed"
        )
    else:
        write_lines(f"{args.name}@{args.alias} moved: version {before} -> {mv.version}")
    return 0


def _tag(args: argparse.Namespace) -> int:
    target = f"version {args.version} of {args.name!r}" if args.version else repr(args.name)
    if args.delete:
        if args.version is not None:
            registry.delete_model_version_tag(args.name, args.version, args.key)
        else:
            registry.delete_registered_model_tag(args.name, args.key)
        write_lines(f"Removed tag {args.key!r} of {target}")
        return 0
    if args.value is None:
        raise InvalidKeyError(
            f"tag {args.key!r} needs a VALUE: autolog models tag NAME KEY VALUE (or --delete)"
        )
    if args.version is not None:
        registry.set_model_version_tag(args.name, args.version, args.key, args.value)
    else:
        registry.set_registered_model_tag(args.name, args.key, args.value)
    write_lines(f"Tagged {target}: {args.key}={args.value}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    if args.version is not None:
        registry.update_model_version(args.name, args.version, args.text)
        write_lines(f"Updated the description of version {args.version} of {args.name!r}")
    else:
        registry.update_registered_model(args.name, args.text)
        write_lines(f"Updated the description of {args.name!r}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    if args.version is not None:
        registry.delete_model_version(args.name, args.version, args.force, args.comment)
        write_lines(f"Deleted version {args.version} of {args.name!r} (its number is not reused)")
    else:
        registry.delete_registered_model(args.name, args.force, args.comment)
        write_lines(f"Deleted registered model {args.name!r}; its history stays readable")
    return 0


# -- history -----------------------------------------------------------------------------------


def describe_event(ev: ModelEvent) -> str:
    """One line saying what an event changed, e.g. `production: 2 -> 3`."""
    old, new, key = ev.old_value, ev.new_value, ev.key
    texts = {
        "model_created": "created the model",
        "version_created": f"registered from {new}",
        "alias_set": f"{key} -> {new}",
        "alias_moved": f"{key}: {old} -> {new}",
        "alias_deleted": f"{key} removed (was {old})",
        "model_tag_set": f"{key}={new}" + (f" (was {old})" if old is not None else ""),
        "version_tag_set": f"{key}={new}" + (f" (was {old})" if old is not None else ""),
        "model_tag_deleted": f"{key} removed (was {old})",
        "version_tag_deleted": f"{key} removed (was {old})",
        "model_description_set": f"description: {new or '(empty)'}",
        "version_description_set": f"description: {new or '(empty)'}",
        "version_deleted": "deleted" + (f" with aliases {old}" if old else ""),
        "model_deleted": "deleted the model" + (f" (versions {old})" if old else ""),
    }
    return texts.get(ev.type, f"{key or ''} {old or ''} -> {new or ''}".strip())


def _history(args: argparse.Namespace) -> int:
    events = registry.get_model_history(args.name)
    if args.json:
        write_json([e.to_dict() for e in events])
        return 0
    columns = [
        Column("TIME", cells=[format_time(e.time) for e in events]),
        Column(
            "USER",
            max_width=16,
            soft_min=6,
            min_width=4,
            drop=2,
            cells=[e.user or "?" for e in events],
        ),
        Column("EVENT", cells=[e.type for e in events]),
        Column("VERSION", align=">", cells=[str(e.version or "-") for e in events]),
        Column(
            "CHANGE",
            max_width=60,
            soft_min=16,
            min_width=8,
            cells=[one_line(describe_event(e)) for e in events],
        ),
        Column(
            "COMMENT",
            max_width=50,
            soft_min=10,
            min_width=6,
            drop=1,
            cells=[e.comment or "" for e in events],
        ),
    ]
    write_table(columns)
    return 0
