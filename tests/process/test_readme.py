"""The README and docs/ run as a reader copies them.

Every fenced block of README.md and of each docs/*.md is read in order and run in one fresh
folder per document, holding only what the repository ships (data/ and configs/, as a reader
in the repository's folder has them), with `lstmcli` on PATH:

- `sh` blocks run with bash -e (a failing command fails the block);
- an untyped block whose lines start with `$ ` runs each command and compares its output with
  the lines shown after it (numbers with a decimal point loosely, as training moves them; a
  line `…` stands for lines left out);
- `python` blocks run with this Python; where the prose after one says it `prints` a `text`
  block, its output must be that block;
- `make` blocks are written to a Makefile and built, then found up to date;
- `csv` blocks must be the head of a file the repository ships under data/.

A block right after `<!-- readme-test: skip (REASON) -->` is left out, for a reason the README
shows in its source. The `yaml` blocks (dvc.yaml, the GitHub Actions job) are checked below:
each stage's and step's commands run, and the stages declare what their commands read.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

DOCUMENTS = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
SHIPPED = ("data", "configs")  # what the examples read, copied as the repository ships it
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
SKIP = re.compile(r"^\s*<!-- readme-test: skip \((.+)\) -->\s*$")
README = (REPO / "README.md").read_text()
MOST_SKIPS = 4  # blocks a test cannot run (make's own install, two machines): a few, never the examples


@dataclass
class Block:
    language: str
    body: str
    line: int  # where the block starts in its document, for failure messages
    skip: str | None  # the reason given by a skip marker right before it
    before: str  # the prose between the previous block and this one


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order, their indentation removed."""
    found, lines, i, prose = [], text.splitlines(), 0, []
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            prose.append(lines[i])
            i += 1
            continue
        indent, language, start = fence.group(1), fence.group(2), i
        i += 1
        body = []
        while not re.match(rf"^{indent}```\s*$", lines[i]):
            body.append(lines[i][len(indent) :])
            i += 1
        marker = next((SKIP.match(line) for line in reversed(prose) if line.strip()), None)
        found.append(Block(language, "\n".join(body) + "\n", start + 1, marker and marker.group(1), "\n".join(prose)))
        prose = []
        i += 1
    return found


def a_readers_folder(root: Path) -> dict:
    """A fresh folder with what the repository ships, and the environment of a shell with lstmcli on PATH."""
    for name in SHIPPED:
        shutil.copytree(REPO / name, root / name)
    bin_dir = root.parent / f"{root.name}-bin"
    bin_dir.mkdir()
    shim = bin_dir / "lstmcli"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lstmcli "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO / "src")}
    env.update(NO_COLOR="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("LSTMCLI_SMOKE", None)
    # The Makefile example exports LSTMCLI_SERVER=auto: a warm server it starts is this folder's own
    # (not the user's running one) and leaves soon after the last block.
    runtime = root.parent / f"{root.name}-run"
    runtime.mkdir(mode=0o700)
    env.update(XDG_RUNTIME_DIR=str(runtime), LSTMCLI_SERVER_IDLE="20")
    return env


def loosely(shown: str) -> re.Pattern:
    """A shown output line as a pattern: decimals (training-dependent) match any decimal."""
    parts = re.split(r"(-?\d+\.\d+(?:e[-+]?\d+)?|\d+e-\d+)", shown)
    return re.compile(
        "".join(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?" if k % 2 else re.escape(p) for k, p in enumerate(parts)) + r"\s*$"
    )


def check_prompts(block: Block, cwd: Path, env: dict, where: str) -> None:
    """Run each `$ command` of the block and find the lines shown after it in its output, in order."""
    for chunk in re.split(r"^\$ ", block.body, flags=re.M)[1:]:
        command, *shown = chunk.rstrip("\n").split("\n")
        run = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
        actual = iter((run.stdout + run.stderr).splitlines())
        for line in (s for s in shown if s.strip() != "…"):
            pattern = loosely(line)
            assert any(pattern.match(got) for got in actual), (where, command, line, run.stdout + run.stderr)


def check_make(block: Block, cwd: Path, env: dict, where: str) -> None:
    """Every shipped file a recipe reads is a prerequisite; make builds the last target, then finds it up to date."""
    rules = re.findall(r"^(\S+):(.*)\n\t(.*)$", block.body, re.M)
    for target, prerequisites, recipe in rules:
        read = {w for w in shlex.split(recipe) if w.startswith(SHIPPED)}
        assert read <= set(prerequisites.split()), (where, target, read - set(prerequisites.split()))
    (cwd / "readme.mk").write_text(block.body)
    last = rules[-1][0]
    build = subprocess.run(["make", "-f", "readme.mk", last], cwd=cwd, env=env, capture_output=True, text=True)
    assert build.returncode == 0, (where, build.stdout + build.stderr)
    again = subprocess.run(["make", "-q", "-f", "readme.mk", last], cwd=cwd, env=env)
    assert again.returncode == 0, (where, "make would run again with nothing changed")


def run_document(document: str, cwd: Path, env: dict) -> dict:
    """Run every block of `document` in order; returns how many of each kind ran and the skips' reasons."""
    ran, skipped = {}, []
    found = blocks((REPO / document).read_text())
    for k, block in enumerate(found):
        where = f"{document}:{block.line}"
        if block.skip:
            skipped.append(block.skip)
            continue
        if block.language == "sh":
            run = subprocess.run(
                ["bash", "-e", "-c", block.body], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800
            )
            assert run.returncode == 0, (where, block.body, run.stderr[-3000:])
        elif block.language == "" and block.body.startswith("$ "):
            check_prompts(block, cwd, env, where)
        elif block.language == "python":
            run = subprocess.run([sys.executable, "-c", block.body], cwd=cwd, env=env, capture_output=True, text=True)
            assert run.returncode == 0, (where, run.stderr[-3000:])
            after = found[k + 1] if k + 1 < len(found) else None
            if after is not None and after.language == "text" and "prints" in after.before:
                assert run.stdout == after.body, (where, run.stdout)
        elif block.language == "make":
            check_make(block, cwd, env, where)
        elif block.language == "csv":
            assert any((cwd / "data" / name).read_text().startswith(block.body) for name in os.listdir(cwd / "data")), (
                where,
                "not the head of a file under data/",
            )
        else:
            continue
        ran[block.language or "$"] = ran.get(block.language or "$", 0) + 1
    return {"ran": ran, "skipped": skipped}


@pytest.mark.slow
@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_block_runs_as_a_reader_copies_it(document, tmp_path):
    cwd = tmp_path / "repo"
    cwd.mkdir()
    env = a_readers_folder(cwd)
    done = run_document(document, cwd, env)
    assert done["ran"].get("sh", 0) >= 1, done
    assert len(done["skipped"]) <= MOST_SKIPS, done["skipped"]  # a few, each with its reason in the source
    if document == "README.md":
        ran = done["ran"]
        assert all(ran.get(kind, 0) >= least for kind, least in {"$": 2, "make": 1, "csv": 1, "python": 2}.items()), (
            done
        )
        future = (cwd / "build/co2-future.csv").read_text().splitlines()
        assert future[1].startswith("2002-01,1,") and future[-1].startswith("2004-12,")


def test_the_skip_markers_are_few_and_say_why():
    for document in DOCUMENTS:
        skips = [b.skip for b in blocks((REPO / document).read_text()) if b.skip]
        assert len(skips) <= MOST_SKIPS and all(len(reason) > 10 for reason in skips), (document, skips)


def test_a_block_is_read_with_its_marker_output_and_indentation():
    text = (
        "Intro\n\n<!-- readme-test: skip (needs two machines) -->\n```sh\nmake x\n```\n\n"
        "- item\n\n  ```sh\n  lstmcli a \\\n      --b\n  ```\n\nprints\n\n```text\nhi\n```\n"
    )
    first, second, third = blocks(text)
    assert (first.language, first.skip, first.body) == ("sh", "needs two machines", "make x\n")
    assert (second.skip, second.body) == (None, "lstmcli a \\\n    --b\n")
    assert third.language == "text" and "prints" in third.before
    assert loosely("loss: 0.0123 - val 2e-4 rows 37×1").match("loss: 1.5 - val 3e-05 rows 37×1")
    assert not loosely("input_shape  37×1").match("input_shape  24×1")


# ---------------------------------------------------------------- the yaml blocks


def yaml_blocks(section: str) -> list[dict]:
    import yaml

    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", body, re.S)]


def in_a_copy_of_the_repo(tmp_path, monkeypatch):
    for name in SHIPPED:
        shutil.copytree(REPO / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)


def dvc_stages() -> dict:
    return next(block for block in yaml_blocks("Pipelines and CI") if "stages" in block)["stages"]


def test_each_dvc_stage_declares_what_its_command_reads_and_writes():
    """DVC the DVC way: a step's own config table as `params`, every other file it reads as a dep, its outputs as outs."""
    import tomllib

    config_tables = set(tomllib.loads((REPO / "configs/sequence.toml").read_text()))
    for name, stage in dvc_stages().items():
        words = shlex.split(stage["cmd"])
        deps = set(stage.get("deps", []))
        params = {file: set(keys) for entry in stage.get("params", []) for file, keys in entry.items()}
        reads = {words[2]} if words[2].startswith("build/") else set()  # the artifact the step reads
        reads |= {words[i + 1] for i, w in enumerate(words) if w in ("--data", "--config")}
        config = words[words.index("--config") + 1] if "--config" in words else None
        if config in params:  # define, compile, fit read their own table alone
            assert params[config] == {name} and name in config_tables, (name, params)
            reads.discard(config)
        elif config is not None:
            assert name in ("evaluate", "predict"), (name, "reads a config it does not declare")
        if name in ("fit", "evaluate", "predict"):
            reads.add("data/sequence.csv")  # the config's [fit]/[evaluate]/[predict] data
        assert reads <= deps, (name, reads - deps)
        writes = {words[i + 1] for i, w in enumerate(words) if w in ("--out", "--history")}
        declared = {
            next(iter(out)) if isinstance(out, dict) else out
            for key in ("outs", "metrics", "plots")
            for out in stage.get(key, [])
        }
        assert writes <= declared, (name, writes - declared)
        assert all(path.startswith("build/dvc/") for path in declared | writes), name  # no other example's files


def test_the_dvc_pipeline_and_the_pipeline_examples_run(tmp_path, cli, monkeypatch):
    """dvc.yaml's stages, each `cmd` in order (as `dvc repro` would)."""
    import json

    import pandas as pd

    in_a_copy_of_the_repo(tmp_path, monkeypatch)
    made = set()
    for name, stage in dvc_stages().items():
        words = shlex.split(stage["cmd"])
        assert words[0] == "lstmcli" and words[1] == name
        for dep in stage.get("deps", []):
            assert os.path.exists(dep) and (dep in made or not dep.startswith("build/")), (name, dep)
        run = cli(*words[1:])
        assert run.exit_code == 0, (name, run)
        outputs = stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", [])
        for out in outputs:
            path, props = next(iter(out.items())) if isinstance(out, dict) else (out, {})
            assert os.path.exists(path), (name, path)
            made.add(path)
            if "x" in props:
                assert {props["x"], props["y"]} <= set(pd.read_csv(path).columns), (name, path)
    assert json.loads(open("build/dvc/metrics.json").read())["loss"] < 0.01


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dvc") is None, reason="DVC is not installed")
def test_dvc_repro_runs_the_readme_pipeline_and_an_epochs_edit_reruns_fit_only(tmp_path):
    """Where DVC is installed: `dvc repro`, then `dvc exp run -S` on [fit] epochs leaves define and compile cached."""
    cwd = tmp_path / "repo"
    cwd.mkdir()
    env = a_readers_folder(cwd)
    body = README.split("### DVC\n", 1)[1]
    (cwd / "dvc.yaml").write_text(re.search(r"```yaml\n(.*?)```", body, re.S).group(1))

    def sh(command: str) -> str:
        run = subprocess.run(["bash", "-e", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)
        assert run.returncode == 0, (command, run.stdout + run.stderr)
        return run.stdout + run.stderr

    sh("git init -q && git config user.email t@t && git config user.name t && dvc init -q")
    sh("git add -A && git commit -qm start && dvc repro")
    sh("git add -A && git commit -qm repro")
    again = sh("dvc exp run -S 'configs/sequence.toml:fit.epochs=900'")
    assert "'define' didn't change, skipping" in again and "'compile' didn't change, skipping" in again
    assert "Running stage 'fit'" in again


def test_the_github_actions_job_runs_the_pipeline_as_a_smoke_test(tmp_path, cli, monkeypatch):
    from lstmcli.model.artifact import read_record

    workflow = next(block for block in yaml_blocks("Pipelines and CI") if "jobs" in block)
    (job,) = workflow["jobs"].values()
    in_a_copy_of_the_repo(tmp_path, monkeypatch)
    for name, value in job["env"].items():
        monkeypatch.setenv(name, str(value))
    ran = []
    for step in job["steps"]:
        if "uses" in step:
            assert step["uses"].split("@")[0] in ("actions/checkout", "actions/setup-python", "actions/upload-artifact")
            continue
        for line in step["run"].strip().splitlines():
            words = shlex.split(line)
            if words[0] == "pip":
                assert words == ["pip", "install", "."]  # this test runs the checkout's lstmcli already
                continue
            assert words[0] == "lstmcli"
            run = cli(*words[1:])
            assert run.exit_code == 0, (line, run)
            ran.append(words[1])
    assert ran == ["run", "evaluate", "inspect"]
    assert read_record(tmp_path / "build" / "ci" / "fitted.keras").fit["smoke"] is True
    assert os.path.exists(job["steps"][-1]["with"]["path"])
    gate = next(line for step in job["steps"] for line in step.get("run", "").splitlines() if "--fail-if" in line)
    failing = shlex.split(gate.replace("'loss>1'", "'loss>1e-9'"))
    assert cli(*failing[1:]).exit_code == 3  # the job's gate does gate
