"""Keep environment.yml, pyproject.toml, the Makefile and .ci/run consistent with each other."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*(.*?)\s*$")

# PyPI name -> conda-forge name, only where they differ (both canonicalised).
PYPI_TO_CONDA = {"isal": "python-isal"}
CONDA_TO_PYPI = {v: k for k, v in PYPI_TO_CONDA.items()}


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.fixture(scope="module")
def env() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def conda_specs(env: dict) -> dict[str, str]:
    """Conda entries of environment.yml as {normalised name: version spec ('' if none)}."""
    specs: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            continue
        m = CONDA_NAME.match(str(dep))
        assert m, f"unparseable conda dependency {dep!r}"
        name = canonicalize_name(m.group(1))
        assert name not in specs, f"{name} listed twice in environment.yml"
        specs[name] = m.group(2)
    return specs


def pip_section(env: dict) -> list[str]:
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one `- pip:` section"
    return [str(x).strip() for x in sections[0]]


def test_environment_header(env):
    assert env["name"] == "ecsflow"
    assert "conda-forge" in env["channels"]
    assert "nodefaults" in env["channels"]


def test_every_runtime_dependency_is_in_conda_list(project, env):
    conda = conda_specs(env)
    missing = []
    for raw in project["dependencies"]:
        req = Requirement(raw)
        name = canonicalize_name(req.name)
        name = PYPI_TO_CONDA.get(name, name)
        if name not in conda:
            missing.append(name)
            continue
        # When environment.yml pins a version, it must be the same range as pyproject's.
        if conda[name]:
            try:
                conda_spec = SpecifierSet(conda[name])
            except InvalidSpecifier:
                pytest.fail(f"environment.yml: {name} spec {conda[name]!r} is not PEP 440-style")
            assert conda_spec == req.specifier, (
                f"{name}: environment.yml has {conda[name]!r}, pyproject has {str(req.specifier)!r}"
            )
    assert not missing, f"pyproject runtime deps missing from environment.yml: {missing}"


def test_no_conda_package_unknown_to_pyproject(project, env):
    declared = {
        canonicalize_name(Requirement(r).name)
        for r in project["dependencies"]
        + [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
    }
    conda = {CONDA_TO_PYPI.get(name, name) for name in conda_specs(env)}
    extra = conda - {"python", "pip"} - declared
    assert not extra, f"environment.yml lists packages not declared in pyproject: {sorted(extra)}"


def test_python_version_satisfies_requires_python(project, env):
    conda = conda_specs(env)
    assert "python" in conda and "pip" in conda
    m = re.fullmatch(r"==?\s*(\d+\.\d+(?:\.\d+)?)(?:\.\*)?", conda["python"])
    assert m, f"pin python as python=X.Y in environment.yml, got {conda['python']!r}"
    assert Version(m.group(1)) in SpecifierSet(project["requires-python"]), (
        f"python {m.group(1)} does not satisfy requires-python {project['requires-python']}"
    )


def test_pip_section_installs_project_with_dev_extras(env):
    entries = [re.sub(r"\s+", " ", e).replace('"', "").replace("'", "") for e in pip_section(env)]
    assert "-e .[dev]" in entries, f"pip section must install `-e .[dev]`, got {entries}"


def test_ci_run_calls_make_test():
    ci = ROOT / ".ci" / "run"
    lines = [ln.split("#", 1)[0] for ln in ci.read_text(encoding="utf-8").splitlines()]
    assert any(re.search(r"^\s*(exec\s+)?make\b.*\stest\b", ln) for ln in lines), (
        ".ci/run must run `make test`"
    )
    assert "set -euo pipefail" in ci.read_text(encoding="utf-8")


def test_makefile_has_targets():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.MULTILINE))
    missing = {"help", "venv", "test", "lint", "format", "report", "clean"} - targets
    assert not missing, f"Makefile lacks targets {sorted(missing)}"
