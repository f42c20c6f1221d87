"""DVC data versions: read from a project's dvc.lock, *.dvc files and .dvc/config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autolog._tracking import context as _context
from autolog._tracking.dvc import YamlError, dvc_context, find_project, read_yaml

DVC_LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: python src/prepare.py data/raw.csv
    deps:
    - path: data/raw.csv
      hash: md5
      md5: 22a1a2931c8370d3aeedd7183606fd7f
      size: 14445
    - path: src/prepare.py
      hash: md5
      md5: f09ea0c15980b43010257ccb9f0055e2
      size: 1576
    outs:
    - path: data/prepared
      hash: md5
      md5: 153aad06d376b6595932470e459ef42a.dir
      size: 8437
      nfiles: 2
  train:
    cmd:
    - python src/train.py   # two commands
    - echo done
    params:
      params.yaml:
        train.seed: 20170428
    outs: []
"""

RAW_DVC = """\
outs:
- md5: 22a1a2931c8370d3aeedd7183606fd7f
  size: 14445
  hash: md5
  path: raw.csv
desc: |
  the raw export
  of March
"""

CONFIG = """\
[core]
    remote = storage
['remote "storage"']
    url = s3://bucket/dvcstore
"""


def _project(root: Path) -> Path:
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(CONFIG)
    (root / "data").mkdir()
    (root / "data" / "raw.csv.dvc").write_text(RAW_DVC)
    (root / "dvc.lock").write_text(DVC_LOCK)
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text("print('train')\n")
    return root


def test_read_yaml_reads_what_dvc_writes() -> None:
    lock = read_yaml(DVC_LOCK)
    prepare = lock["stages"]["prepare"]
    assert prepare["deps"][1] == {
        "path": "src/prepare.py",
        "hash": "md5",
        "md5": "f09ea0c15980b43010257ccb9f0055e2",
        "size": 1576,
    }
    assert prepare["outs"][0]["nfiles"] == 2
    assert lock["stages"]["train"]["cmd"] == ["python src/train.py", "echo done"]
    assert lock["stages"]["train"]["params"] == {"params.yaml": {"train.seed": 20170428}}
    assert lock["stages"]["train"]["outs"] == []
    raw = read_yaml(RAW_DVC)
    assert raw["desc"] == "the raw export\nof March"
    assert read_yaml("a: 'it''s'\nb: \"q\"\nc: ~\nd: true\n") == {
        "a": "it's",
        "b": "q",
        "c": None,
        "d": True,
    }
    with pytest.raises(YamlError, match="expected 'key: value'"):
        read_yaml("a: 1\njust words\n")


def test_a_dvc_project_names_its_data_version(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    assert find_project(str(root / "src")) == root
    tags, artifacts = dvc_context(str(root / "src"))
    assert tags["autolog.dvc.root"] == str(root)
    assert tags["autolog.dvc.remote"] == "storage"
    assert tags["autolog.dvc.remote_url"] == "s3://bucket/dvcstore"
    assert tags["autolog.dvc.outputs"] == ("data/raw.csv=md5:22a1a293, data/prepared=md5:153aad06")
    record = json.loads(artifacts["context/dvc.json"])
    assert record["outputs"] == [
        {
            "path": "data/raw.csv",
            "hash": "md5:22a1a2931c8370d3aeedd7183606fd7f",
            "source": "data/raw.csv.dvc",
            "size": 14445,
        },
        {
            "path": "data/prepared",
            "hash": "md5:153aad06d376b6595932470e459ef42a.dir",
            "source": "dvc.lock:prepare",
            "size": 8437,
            "nfiles": 2,
        },
    ]
    # Another version of the data is another data hash.
    before = tags["autolog.dvc.hash"]
    (root / "data" / "raw.csv.dvc").write_text(RAW_DVC.replace("22a1a293", "99999999"))
    assert dvc_context(str(root))[0]["autolog.dvc.hash"] != before


def test_secrets_in_config_local_are_never_read(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    (root / ".dvc" / "config").write_text(
        "[core]\n    remote = storage\n['remote \"storage\"']\n"
        "    url = https://user:SECRET@dav.example.com/store\n"
    )
    (root / ".dvc" / "config.local").write_text("['remote \"storage\"']\n    password = SECRET\n")
    tags, artifacts = dvc_context(str(root))
    assert tags["autolog.dvc.remote_url"] == "https://dav.example.com/store"
    assert "SECRET" not in json.dumps(tags) + artifacts["context/dvc.json"].decode()


def test_a_broken_dvc_file_is_skipped_and_no_project_is_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    (root / "data" / "bad.dvc").write_text("outs:\n- md5: x\n  just words\n")
    tags, _ = dvc_context(str(root))
    assert tags["autolog.dvc.outputs"].startswith("data/raw.csv=")
    assert dvc_context(str(tmp_path)) == ({}, {})


def test_the_run_context_holds_the_dvc_version(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    script = root / "src" / "train.py"
    proc = _context._Process(
        argv=[str(script)],
        executable="python",
        cwd=str(root),
        main_file=str(script),
        main_module=None,
        shell=None,
    )
    ctx = _context._compute(_context.Capture(source=False, packages=False, system=False), proc)
    assert ctx.tags["autolog.dvc.remote"] == "storage"
    assert "context/dvc.json" in ctx.artifacts
    off = _context._compute(_context.Capture.from_names(["git"]), proc)
    assert "autolog.dvc.root" not in off.tags
