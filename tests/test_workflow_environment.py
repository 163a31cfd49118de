"""The Snakefile as Snakemake parses it: wildcard constraints from the one name pattern, and
rules that find ``rgg`` without the parsing process's ``PATH`` being changed."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rgg.workflow.model import NAME_REGEX

from .test_workflow import CONFIG, REPO, SNAKEMAKE, write_config

pytestmark = pytest.mark.workflow

#: Parses the Snakefile through Snakemake's API and prints what the test checks, as JSON.
_PARSE = """
import json, os, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import (
    ConfigSettings, DeploymentMethod, DeploymentSettings, OutputSettings, ResourceSettings,
    StorageSettings, WorkflowSettings,
)
from snakemake.shell import shell

before = dict(os.environ)
methods = {DeploymentMethod.CONDA} if sys.argv[2] == "conda" else frozenset()
with SnakemakeApi(OutputSettings(quiet=True)) as api:
    workflow = api.workflow(
        snakefile=Path(sys.argv[1]) / "Snakefile", workdir=Path(sys.argv[1]),
        resource_settings=ResourceSettings(), config_settings=ConfigSettings(),
        storage_settings=StorageSettings(), workflow_settings=WorkflowSettings(),
        deployment_settings=DeploymentSettings(deployment_method=methods),
    )._workflow
    print(json.dumps({
        "constraints": dict(workflow.wildcard_constraints),
        "rule_constraints": {r.name: dict(r.wildcard_constraints) for r in workflow.rules},
        "prefix": shell._process_prefix,
        "path": os.environ["PATH"] == before["PATH"],
        "rgg_source": os.environ.get("RGG_SOURCE"),
    }))
"""


def _parsed(deployment: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", _PARSE, str(REPO), deployment],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_wildcard_constraints_are_the_name_pattern_and_parsing_leaves_path_alone() -> None:
    parsed = _parsed("none")
    assert parsed["constraints"] == dict.fromkeys(("dataset", "grouping", "test"), NAME_REGEX)
    assert all(not constraints for constraints in parsed["rule_constraints"].values())
    assert parsed["path"]
    folder = shlex.quote(str(Path(sys.executable).parent))
    assert parsed["prefix"] == f'set -euo pipefail; export PATH={folder}:"$PATH"; '


def test_with_conda_the_rules_environment_comes_first() -> None:
    parsed = _parsed("conda")
    assert parsed["prefix"] is None  # Snakemake's own: its conda activation leads
    assert parsed["path"]
    # where workflow/envs/rgg.post-deploy.sh installs rgg from into the environment
    assert parsed["rgg_source"] == str(REPO)


def test_an_unactivated_virtual_environment_runs_its_own_rgg(tmp_path: Path) -> None:
    """``.venv/bin/snakemake`` with a PATH that does not hold ``.venv/bin``: the rule still
    runs that environment's ``rgg`` (here ``rgg verify``, which finds no crate)."""
    write_config(tmp_path, CONFIG)
    environment = {**os.environ, "PATH": os.pathsep.join(["/usr/bin", "/bin"])}
    result = subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(tmp_path / "config.yaml"), "--cores", "1", "verify"],
        capture_output=True, text=True, check=False, env=environment,
    )  # fmt: skip
    log = (tmp_path / "results" / "logs" / "verify.log").read_text()
    assert result.returncode != 0  # nothing to verify yet
    assert "command not found" not in log
    assert log.startswith("rgg: "), log
