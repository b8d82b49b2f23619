"""The Dockerfile and the Kubernetes manifests in deploy/: linted by the real tools (hadolint,
kubernetes-validate against the Kubernetes API schemas, both from the ``deploy`` extra that
.ci/run installs), and their ``reconciler agent`` arguments parsed by the agent's own command, so
a renamed option cannot leave a manifest that starts a crash-looping pod."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from reconciler.cli.cmd_agent import agent

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((REPO / "deploy").glob("*.yaml"))
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: pip install -e '.[deploy]' (.ci/run does)")
    return found


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_hadolint_accepts_the_dockerfile_and_refuses_a_careless_one(tmp_path: Path) -> None:
    hadolint = _tool("hadolint")
    done = _run(hadolint, str(REPO / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:3.11-slim\nRUN apt-get install git\n")
    refused = _run(hadolint, str(careless))
    assert refused.returncode == 1 and "DL3014" in refused.stdout


def test_the_manifests_match_the_kubernetes_api(tmp_path: Path) -> None:
    validate = _tool("kubernetes-validate")
    done = _run(validate, "--strict", "--quiet", *map(str, MANIFESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    typo = tmp_path / "typo.yaml"
    typo.write_text((REPO / "deploy" / "agent.yaml").read_text().replace("readinessProbe", "rp"))
    refused = _run(validate, "--strict", "--quiet", str(typo))
    assert refused.returncode == 1 and "'rp' was unexpected" in refused.stdout


def _containers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in MANIFESTS:
        for document in YAML(typ="safe").load_all(path.read_text(encoding="utf-8")):
            if document.get("kind") in {"Deployment", "StatefulSet"}:
                for container in document["spec"]["template"]["spec"]["containers"]:
                    found.append((f"{path.name}:{document['kind']}", container))
    return found


def _agent_args(container: dict[str, Any]) -> list[str]:
    """The arguments after ``reconciler agent``, from ``args`` or from the ``sh -c`` line."""
    if container.get("command", [])[:2] == ["/bin/sh", "-c"]:
        line = container["args"][0].replace('"$((POD_INDEX + 1))/3"', "1/3")
        words = shlex.split(line)
        assert words[:3] == ["exec", "reconciler", "agent"]
        return words[3:]
    assert container["args"][0] == "agent"
    return list(container["args"][1:])


@pytest.mark.parametrize(("where", "container"), _containers(), ids=lambda v: str(v)[:40])
def test_each_manifest_starts_the_agent_with_options_it_accepts(
    where: str, container: dict[str, Any]
) -> None:
    args = _agent_args(container)
    context = agent.make_context("agent", args)  # click raises on an unknown option or value
    assert context.params["listen"] == "0.0.0.0:9090", where
    probes = {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
    assert probes == {"/healthz", "/readyz"}
    # A volume's root may be writable by others (emptyDir is 0777), which the state folder
    # check refuses: the state folder must be one the agent creates inside the volume.
    state = Path(context.params["state_dir"])
    mounts = {Path(m["mountPath"]) for m in container["volumeMounts"]}
    assert state.parent in mounts and state not in mounts, where


def test_an_unknown_option_in_a_manifest_would_be_caught() -> None:
    with pytest.raises(click.NoSuchOption):
        agent.make_context("agent", ["--repo=x", "--intervall=5m"])
