"""A workflow run as a Workflow Run RO-Crate (https://w3id.org/ro/wfrun/workflow/0.5).

The results folder is the crate: ``ro-crate-metadata.json`` in it describes the workflow (a copy
of the Snakefile, its rules and config schema under ``run/``) as the main entity, the
resolved config (``run/config.yaml``), every input and output file with its sha256, the software (rgg's version and
commit, Python, every installed package) and one ``CreateAction`` for the run plus one per
comparison, which links the comparison's input, its parameters and its table. Files outside the
folder (the datasets, the report) are named by their path relative to it.

The JSON-LD is made and read with ro-crate-py (``rocrate``); :func:`read_run_crate` turns it
back into the facts ``rgg verify`` checks.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import yaml

from .atomic import atomic_path
from .environment import write_environment_files
from .parquet import read_comparisons, read_table_kind
from .provenance import dependency_versions, now, rgg_source, sha256_file

#: The crate's metadata file, in the results folder.
CRATE_FILE = "ro-crate-metadata.json"
#: RO-Crate version of the crate: the one the Workflow Run Crate 0.5 profile builds on.
RO_CRATE_VERSION = "1.1"
#: The profiles the crate follows (id, name, version).
PROFILES = (
    ("https://w3id.org/ro/wfrun/process/0.5", "Process Run Crate", "0.5"),
    ("https://w3id.org/ro/wfrun/workflow/0.5", "Workflow Run Crate", "0.5"),
    ("https://w3id.org/workflowhub/workflow-ro-crate/1.0", "Workflow RO-Crate", "1.0"),
)
#: Where the copy of the workflow goes in the crate (a folder of its own: with ``results: .``,
#: ``workflow/`` would be the workflow itself), and what is copied (relative to its folder).
WORKFLOW_FOLDER = "run"
WORKFLOW_FILES = ("Snakefile", "workflow/rules/*.smk", "workflow/schemas/*.yaml", "workflow/envs/*")
#: The resolved config, in the crate.
CONFIG_FILE = "run/config.yaml"

#: The licence of results whose config names none.
NO_LICENSE = "No licence chosen: ask the authors of this run before reusing its results."

RGG_ID = "#rgg"
RUN_ID = "#run"
_PACKAGE_BASE = "https://pypi.org/project/"
_PYTHON_BASE = "https://www.python.org/downloads/release/python-"

_FORMATS = {
    ".parquet": "application/vnd.apache.parquet",
    ".h5ad": "application/x-hdf5",
    ".html": "text/html",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".txt": "text/plain",
    ".smk": "text/plain",
    ".sh": "text/x-shellscript",
}


def parameter_text(value: Any) -> str:
    """A parameter's value as the crate stores it: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def crate_id(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """The crate's id of ``path``: its path relative to the crate ``root``, URI-encoded."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return quote(Path(relative).as_posix(), safe="/")


def id_path(identifier: str, root: str | os.PathLike[str]) -> Path:
    """The file a crate id names, for a crate in ``root``."""
    return Path(root) / unquote(identifier)


@dataclass
class CrateFile:
    """A file the crate lists, with its recorded checksum."""

    id: str
    sha256: str | None


@dataclass
class CrateComparison:
    """One comparison's action: its names, input, parameters and table."""

    name: str  # dataset/grouping/test
    table: str
    inputs: list[str]
    params: dict[str, str]


@dataclass
class RunCrate:
    """What a run's crate records, as :func:`read_run_crate` reads it back."""

    root: Path
    inputs: list[CrateFile]
    outputs: list[CrateFile]
    comparisons: list[CrateComparison]
    rgg_version: str | None
    rgg_commit: str | None
    python: str | None
    records: list[CrateFile] = field(default_factory=list)  # config, workflow copy
    packages: dict[str, str] = field(default_factory=dict)
    command: str | None = None
    started: str | None = None
    ended: str | None = None


def write_run_crate(
    results: str | os.PathLike[str],
    *,
    tables: Sequence[str | os.PathLike[str]],
    outputs: Sequence[str | os.PathLike[str]],
    config: Mapping[str, Any],
    workflow_dir: str | os.PathLike[str],
    command: str | None = None,
    license: str | None = None,
) -> Path:
    """Describe a finished workflow run as a Workflow Run RO-Crate in ``results``.

    Writes the copy of the workflow and ``config.yaml`` (the resolved config) into ``run/``,
    ``environment.txt`` and ``environment.yml``, then ``ro-crate-metadata.json``, each
    atomically.

    Parameters
    ----------
    results
        The results folder: the crate's root.
    tables
        The table of each comparison (from ``rgg rank`` or ``rgg pseudobulk``); their
        provenance names the inputs, parameters and times.
    outputs
        The other outputs of the run (combined tables, annotated h5ad files, the report).
    config
        The workflow's resolved config.
    workflow_dir
        The folder of the Snakefile that ran.
    command
        The command the user ran (default: not recorded).
    license
        The licence of the results: an SPDX URL or a sentence (default: says none was chosen).

    Returns
    -------
    The path of ``ro-crate-metadata.json``.
    """
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.softwareapplication import SoftwareApplication
    from rocrate.rocrate import ROCrate

    root = Path(results)
    source = rgg_source()
    packages = dependency_versions()
    workflow_files = _copy_workflow(Path(workflow_dir), root / WORKFLOW_FOLDER)
    with atomic_path(root / CONFIG_FILE) as temporary:
        temporary.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    environment = write_environment_files(root, packages, source)

    crate = ROCrate(version=RO_CRATE_VERSION)
    # RO-Crate 1.1's context has no term for schema.org's sha256 (1.2 added it)
    crate.metadata.extra_terms["sha256"] = "http://schema.org/sha256"
    for identifier, name, version in PROFILES:
        profile = crate.add(
            ContextEntity(
                crate,
                identifier,
                properties={"@type": "CreativeWork", "name": name, "version": version},
            )
        )
        crate.root_dataset.append_to("conformsTo", profile)

    def add_file(path: Path, **properties: Any) -> Any:
        return crate.add_file(
            None,
            dest_path=crate_id(path, root),
            properties={
                "name": path.name,
                "sha256": sha256_file(path),
                "contentSize": str(path.stat().st_size),
                "encodingFormat": _FORMATS.get(path.suffix, "application/octet-stream"),
                **properties,
            },
        )

    rgg = crate.add(
        SoftwareApplication(
            crate,
            RGG_ID,
            properties={
                "name": "rgg",
                "softwareVersion": source["version"],
                "description": _source_description(source),
                **({"identifier": source["git_commit"]} if source.get("git_commit") else {}),
            },
        )
    )
    python = crate.add(
        SoftwareApplication(
            crate,
            f"{_PYTHON_BASE}{platform.python_version().replace('.', '')}/",
            properties={
                "name": f"Python ({platform.python_implementation()})",
                "softwareVersion": platform.python_version(),
                "url": "https://www.python.org",
            },
        )
    )
    software = [rgg, python]
    for name, version in packages.items():
        if name.lower() == "rgg":
            continue
        software.append(
            crate.add(
                SoftwareApplication(
                    crate,
                    f"{_PACKAGE_BASE}{quote(name)}/{quote(version)}/",
                    properties={
                        "name": name,
                        "softwareVersion": version,
                        "url": f"{_PACKAGE_BASE}{quote(name)}/",
                    },
                )
            )
        )

    snakefile, *parts = workflow_files
    workflow = crate.add_workflow(
        None,
        dest_path=crate_id(snakefile, root),
        main=True,
        lang="snakemake",
        lang_version=packages.get("snakemake"),
        properties={
            "name": "rgg workflow",
            "description": "Marker genes of every dataset x grouping x test of the config, "
            "with rgg's rank_genes_groups (a copy of the Snakefile that ran).",
            "version": source["version"],
            "sha256": sha256_file(snakefile),
            "encodingFormat": "text/plain",
        },
    )
    workflow["hasPart"] = [add_file(part) for part in parts]
    workflow["softwareRequirements"] = software
    config_parameter = crate.add_formal_parameter(
        "config",
        "File",
        identifier="#param-config",
        description="The workflow's config (config/README.md documents every key)",
        valueRequired=True,
    )
    workflow["input"] = config_parameter
    config_file = add_file(
        root / CONFIG_FILE,
        description="The resolved config of the run (defaults filled in)",
        exampleOfWork=config_parameter,
    )

    input_entities: dict[str, Any] = {}  # by sha256: the datasets
    actions = []
    table_entities = []
    for table in map(Path, tables):
        [record] = read_comparisons(table)
        provenance = record.get("provenance", {})
        inputs = []
        for item in provenance.get("inputs", []):
            path = Path(item["path"])
            if item["sha256"] not in input_entities:
                input_entities[item["sha256"]] = add_file(
                    path, description=f"Input data of the run ({item['path']})"
                )
            inputs.append(input_entities[item["sha256"]])
        name = f"{record['dataset']}/{record['grouping']}/{record['test']}"
        table_entity = add_file(
            table, description=f"{read_table_kind(table)} table of the comparison {name}"
        )
        table_entities.append(table_entity)
        parameters = [
            crate.add(
                ContextEntity(
                    crate,
                    f"#comparison/{quote(name)}/param/{quote(key)}",
                    properties={
                        "@type": "PropertyValue",
                        "name": key,
                        "value": parameter_text(value),
                    },
                )
            )
            for key, value in sorted(record.get("params", {}).items())
        ]
        actions.append(
            crate.add_action(
                rgg,
                identifier=f"#comparison/{quote(name)}",
                object=[*inputs, *parameters],
                result=table_entity,
                properties={
                    "@type": "CreateAction",
                    "name": f"Comparison {name}",
                    "description": "Command: " + shlex.join(provenance.get("command", [])),
                    **_times(provenance),
                },
            )
        )

    other_outputs = [add_file(Path(path)) for path in outputs]
    environment_files = [
        add_file(path, description="The run's packages, pinned (see its first lines)")
        for path in environment
    ]
    started = min((a["startTime"] for a in actions if a.get("startTime")), default=now())
    ended = now()
    run = crate.add_action(
        workflow,
        identifier=RUN_ID,
        object=[config_file, *input_entities.values()],
        result=[*table_entities, *other_outputs, *environment_files],
        properties={
            "@type": "CreateAction",
            "name": "rgg workflow run",
            "description": f"Command: {command}" if command else "Command: not recorded",
            "startTime": started,
            "endTime": ended,
        },
    )
    crate.root_dataset["mentions"] = [run, *actions]
    crate.root_dataset["name"] = "rgg workflow run"
    crate.root_dataset["description"] = (
        f"Marker genes of {len(actions)} comparisons, with rgg {source['version']}: tables, "
        "annotated h5ad files and a report, with the workflow, config and environment that "
        "made them. Check it with `rgg verify`."
    )
    crate.root_dataset["datePublished"] = ended
    crate.root_dataset["license"] = license or NO_LICENSE

    target = root / CRATE_FILE
    with atomic_path(target) as temporary:
        temporary.write_text(
            json.dumps(crate.metadata.generate(), indent=1, sort_keys=True, ensure_ascii=False),
            encoding="utf-8",
        )
    return target


def _source_description(source: Mapping[str, Any]) -> str:
    if not source.get("git_commit"):
        return f"rgg {source['version']} (an installed copy; no git commit known)"
    dirty = ", with uncommitted changes" if source.get("git_dirty") else ""
    return f"rgg {source['version']} from git commit {source['git_commit']}{dirty}"


def _times(provenance: Mapping[str, Any]) -> dict[str, str]:
    times = {"startTime": provenance.get("started"), "endTime": provenance.get("finished")}
    return {key: value for key, value in times.items() if value}


def _copy_workflow(source: Path, target: Path) -> list[Path]:
    """Copy the Snakefile (first in the list returned) and the files it includes."""
    copied = []
    for pattern in WORKFLOW_FILES:
        for path in sorted(source.glob(pattern)):
            if not path.is_file():
                continue
            destination = target / path.relative_to(source)
            with atomic_path(destination) as temporary:
                shutil.copyfile(path, temporary)
            copied.append(destination)
    if not copied or copied[0].name != "Snakefile":
        msg = f"{source} holds no Snakefile; give --workflow the folder of the workflow that ran."
        raise FileNotFoundError(msg)
    return copied


def read_run_crate(results: str | os.PathLike[str]) -> RunCrate:
    """What the crate in ``results`` records, read with ro-crate-py.

    Raises
    ------
    FileNotFoundError
        When ``results`` holds no ``ro-crate-metadata.json``.
    ValueError
        When the crate cannot be read or lacks the run's action.
    """
    from rocrate.rocrate import ROCrate

    root = Path(results)
    if not (root / CRATE_FILE).is_file():
        msg = (
            f"{root} holds no {CRATE_FILE}; give the results folder of a workflow run "
            "(its `crate` step writes it)."
        )
        raise FileNotFoundError(msg)
    try:
        crate = ROCrate(root)
    except Exception as error:  # the library raises plain exceptions of many kinds
        msg = f"{root / CRATE_FILE} is not a readable RO-Crate ({error}); rerun the workflow to write it again."
        raise ValueError(msg) from error
    run = crate.get(RUN_ID)
    if run is None:
        msg = f"{root / CRATE_FILE} has no action {RUN_ID}: it was not written by rgg's workflow."
        raise ValueError(msg)

    def as_files(entities: Any) -> list[CrateFile]:
        return [
            CrateFile(entity.id, entity.get("sha256"))
            for entity in _as_list(entities)
            if "File" in _as_list(entity.type)
        ]

    comparisons = []
    for action in _as_list(crate.root_dataset.get("mentions")):
        if action.id == RUN_ID or not action.id.startswith("#comparison/"):
            continue
        objects = _as_list(action.get("object"))
        comparisons.append(
            CrateComparison(
                name=unquote(action.id.removeprefix("#comparison/")),
                table=_as_list(action.get("result"))[0].id,
                inputs=[o.id for o in objects if "File" in _as_list(o.type)],
                params={
                    o["name"]: o["value"] for o in objects if "PropertyValue" in _as_list(o.type)
                },
            )
        )
    rgg = crate.get(RGG_ID)
    python = next(
        (e for e in crate.get_by_type("SoftwareApplication") if e.id.startswith(_PYTHON_BASE)),
        None,
    )
    packages = {
        entity["name"]: entity["softwareVersion"]
        for entity in crate.get_by_type("SoftwareApplication")
        if entity.id.startswith(_PACKAGE_BASE)
    }
    description = run.get("description") or ""
    workflow = crate.mainEntity
    records = [f for f in as_files(run.get("object")) if f.id == CONFIG_FILE]
    if workflow is not None:
        records += as_files([workflow, *_as_list(workflow.get("hasPart"))])
    return RunCrate(
        root=root,
        inputs=[f for f in as_files(run.get("object")) if f.id != CONFIG_FILE],
        outputs=as_files(run.get("result")),
        records=records,
        comparisons=comparisons,
        rgg_version=rgg.get("softwareVersion") if rgg else None,
        rgg_commit=rgg.get("identifier") if rgg else None,
        python=python.get("softwareVersion") if python else None,
        packages=packages,
        command=description.removeprefix("Command: ")
        if description.startswith("Command: ")
        else None,
        started=run.get("startTime"),
        ended=run.get("endTime"),
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
