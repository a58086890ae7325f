#!/usr/bin/env bash
# Phased deploy of the kcast prediction worker to Cloud Run, with validation and rollback.
# Run `deploy/deploy.sh --help` for the phases and settings; docs/operations.md is the runbook.
set -euo pipefail

SCRIPT_NAME="deploy/deploy.sh"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'EOF'
Usage: deploy/deploy.sh PHASE [--dry-run]

Phases (each runs `kcast warehouse migrate` first, deploys a revision that gets no traffic,
runs `kcast validate` against it, and moves traffic only when validation passed):
  phase1     MLB_ACTIVE_SYSTEMS=v1_baseline
             on success the revision is also tagged v1-baseline: the rollback target
  phase2     MLB_ACTIVE_SYSTEMS=v1_baseline,v1_6_rolling
  phase3     MLB_ACTIVE_SYSTEMS=v1_baseline,v1_6_rolling,ensemble_v1,v2_matchup
  rollback   send all traffic back to the revision tagged v1-baseline (v1_baseline only,
             validated by phase1), then validate it; no new revision, no migration
  build      build and push the image with Cloud Build (gcloud builds submit)
  schedule   the daily job: a Cloud Run job running `kcast daily` (same image, same
             warehouse; ODDS_API_KEY from Secret Manager) and the Cloud Scheduler jobs that
             start it (10:00-23:00 US Eastern every hour, and 00:30-03:30 for late games);
             runs `kcast warehouse migrate` first
  alerts     the Cloud Monitoring alert policies of deploy/monitoring/*.json (generated from
             src/kcast/alerts.py, the same rules as deploy/prometheus/kcast-alerts.yml), each
             created, or updated when a policy of its name exists

Models: the worker and the daily job load each system's active model from the warehouse's
model registry (`kcast train --model-dir gs://BUCKET/PATH` puts it in Cloud Storage; the
service account reads it there), and pick up a newly trained one within KCAST_RELOAD_SECONDS.
MLB_V1_MODEL_PATH and MLB_V1_6_MODEL_PATH still override the registry when set.

Options:
  --dry-run, -n   print the exact commands instead of running them
  --help, -h      show this help

Settings (environment variables; * = required for a real run):
  KCAST_GCP_PROJECT *      Google Cloud project id
  KCAST_GCP_REGION         region of the service and the image repository [us-central1]
  KCAST_SERVICE            Cloud Run service name [kcast-worker]
  KCAST_AR_REPO            Artifact Registry Docker repository [kcast]
  KCAST_IMAGE_TAG          image tag [the git commit: git rev-parse --short=12 HEAD]
  KCAST_IMAGE              full image URL
                           [REGION-docker.pkg.dev/PROJECT/AR_REPO/kcast-worker:IMAGE_TAG]
  KCAST_BQ_DATASET         BigQuery dataset: KCAST_WAREHOUSE=bigquery://PROJECT/DATASET [kcast]
  MLB_V1_MODEL_PATH        overrides the registry's v1_baseline model: gs://BUCKET/PATH (the
                           bucket is mounted read-only at KCAST_GCS_MOUNT_ROOT/BUCKET) or a path
                           in the container; a model file, or a folder holding exactly one
  MLB_V1_6_MODEL_PATH      overrides the registry's v1_6_rolling model, same forms
  KCAST_GCS_MOUNT_ROOT     where gs:// model buckets are mounted [/mnt/gcs]
  KCAST_BREAKER_FAILURES   consecutive failures that open a system's breaker [3]
  KCAST_BREAKER_COOLDOWN   seconds a breaker stays open before a trial call [30]
  KCAST_SYSTEM_TIMEOUT     seconds one system may take before the call counts as failed [10]
  KCAST_BIGQUERY_LOCATION  BigQuery location (US, EU, ...): used by the migration (which creates
                           the dataset there if missing) and passed to the service when set
  MLB_ENSEMBLE_V1_WEIGHT, MLB_ENSEMBLE_V1_6_WEIGHT, MLB_MIN_EDGE, MLB_MIN_CONFIDENCE
                           passed to the service when set (kcast's defaults otherwise)
  (KCAST_BIGQUERY_ENDPOINT, a local emulator, is ignored: deploys use the real BigQuery)
  KCAST_AUTH               private: --no-allow-unauthenticated, validation through
                           `gcloud run services proxy`; public: --allow-unauthenticated,
                           validation at the tag's URL [private]
  KCAST_API_TOKEN_SECRET    public only, and required there: the Secret Manager secret holding
                           the worker's KCAST_API_TOKEN (given to the service as that variable;
                           validation reads it to send the token). A private service is guarded
                           by Cloud Run IAM and gets KCAST_ALLOW_UNAUTHENTICATED_WRITES=true
  KCAST_SERVICE_ACCOUNT    the service's identity (needs BigQuery and model-bucket access)
  KCAST_CACHE_DIR          where the worker keeps downloaded models [/tmp/kcast-cache]
  KCAST_RELOAD_SECONDS     passed to the service when set (how often it looks for new models)
  KCAST_CPU [1]  KCAST_MEMORY [2Gi]  KCAST_CONCURRENCY [4]  KCAST_REQUEST_TIMEOUT [300]
  KCAST_MIN_INSTANCES [0]  KCAST_MAX_INSTANCES [2]
  KCAST_VALIDATE_DATE      slate date validation predicts [today]; the warehouse must hold it
  KCAST_MIN_AGREEMENT      share of starters whose systems agree within 2 K [0.7]
  KCAST_VALIDATE_TIMEOUT   seconds per validation request [120]
  KCAST_PROXY_PORT         local port of the validation proxy [8089]
  KCAST_PROXY_WAIT         seconds to wait for the proxy to listen [30]
  KCAST_BASELINE_TAG       the rollback target's traffic tag [v1-baseline]
  KCAST_DAILY_JOB          the Cloud Run job running `kcast daily` (schedule) [kcast-daily]
  KCAST_ODDS_SECRET        Secret Manager secret holding ODDS_API_KEY (schedule) [odds-api-key]
  KCAST_DAILY_SCHEDULES    the scheduler jobs, NAME=CRON;... in America/New_York (schedule)
                           [kcast-daily-day=0 10-23 * * *;kcast-daily-night=30 0-3 * * *]
  KCAST_SERVICE_ACCOUNT    (schedule: required) the job's identity, also the one Cloud Scheduler
                           uses to start it (needs roles/run.invoker on the job)
  KCAST_ALERT_CHANNELS     (alerts) notification channels of the policies, comma-separated
                           resource names (projects/P/notificationChannels/ID) [none]
  KCAST_BIN [kcast]  KCAST_GCLOUD [gcloud]  KCAST_PYTHON [python3]   the programs used

Exit status: 0 done; 1 a step failed (traffic is left where it was, the message says where);
2 usage or settings error (nothing was run).
EOF
}

# A step failed: say so (every argument is part of the message) and exit 1.
die() {
    printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
    exit 1
}

# A setting is missing or wrong: nothing was run; exit 2.
settings_error() {
    printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
    exit 2
}

usage_error() {
    printf '%s: error: %s\n\n' "$SCRIPT_NAME" "$1" >&2
    usage >&2
    exit 2
}

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
    settings_error "bash 4.4 or newer is needed (this is $BASH_VERSION)"
fi

# --- arguments ---------------------------------------------------------------------------

PHASE=""
DRY_RUN=0
for arg in "$@"; do
    case "$arg" in
        --dry-run | -n) DRY_RUN=1 ;;
        --help | -h)
            usage
            exit 0
            ;;
        -*) usage_error "unknown option: $arg" ;;
        *)
            [[ -z $PHASE ]] || usage_error "one phase at a time (got $PHASE and $arg)"
            PHASE=$arg
            ;;
    esac
done

SYSTEMS=""
case "$PHASE" in
    phase1) SYSTEMS="v1_baseline" ;;
    phase2) SYSTEMS="v1_baseline,v1_6_rolling" ;;
    phase3) SYSTEMS="v1_baseline,v1_6_rolling,ensemble_v1,v2_matchup" ;;
    rollback | build | schedule | alerts) ;;
    "") usage_error "no phase given" ;;
    *) usage_error "unknown phase: $PHASE" ;;
esac

# --- settings ----------------------------------------------------------------------------

PROJECT=${KCAST_GCP_PROJECT:-}
REGION=${KCAST_GCP_REGION:-us-central1}
SERVICE=${KCAST_SERVICE:-kcast-worker}
AR_REPO=${KCAST_AR_REPO:-kcast}
IMAGE_TAG=${KCAST_IMAGE_TAG:-$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null || true)}
DATASET=${KCAST_BQ_DATASET:-kcast}
V1_MODEL=${MLB_V1_MODEL_PATH:-}
V1_6_MODEL=${MLB_V1_6_MODEL_PATH:-}
GCS_MOUNT_ROOT=${KCAST_GCS_MOUNT_ROOT:-/mnt/gcs}
CACHE_DIR=${KCAST_CACHE_DIR:-/tmp/kcast-cache}
ALERT_CHANNELS=${KCAST_ALERT_CHANNELS:-}
BREAKER_FAILURES=${KCAST_BREAKER_FAILURES:-3}
BREAKER_COOLDOWN=${KCAST_BREAKER_COOLDOWN:-30}
SYSTEM_TIMEOUT=${KCAST_SYSTEM_TIMEOUT:-10}
AUTH=${KCAST_AUTH:-private}
TOKEN_SECRET=${KCAST_API_TOKEN_SECRET:-}
SERVICE_ACCOUNT=${KCAST_SERVICE_ACCOUNT:-}
CPU=${KCAST_CPU:-1}
MEMORY=${KCAST_MEMORY:-2Gi}
CONCURRENCY=${KCAST_CONCURRENCY:-4}
REQUEST_TIMEOUT=${KCAST_REQUEST_TIMEOUT:-300}
MIN_INSTANCES=${KCAST_MIN_INSTANCES:-0}
MAX_INSTANCES=${KCAST_MAX_INSTANCES:-2}
VALIDATE_DATE=${KCAST_VALIDATE_DATE:-}
MIN_AGREEMENT=${KCAST_MIN_AGREEMENT:-0.7}
VALIDATE_TIMEOUT=${KCAST_VALIDATE_TIMEOUT:-120}
PROXY_PORT=${KCAST_PROXY_PORT:-8089}
PROXY_WAIT=${KCAST_PROXY_WAIT:-30}
BASELINE_TAG=${KCAST_BASELINE_TAG:-v1-baseline}
KCAST=${KCAST_BIN:-kcast}
GCLOUD=${KCAST_GCLOUD:-gcloud}
PYTHON=${KCAST_PYTHON:-python3}
DAILY_JOB=${KCAST_DAILY_JOB:-kcast-daily}
ODDS_SECRET=${KCAST_ODDS_SECRET:-odds-api-key}
DAILY_SCHEDULES=${KCAST_DAILY_SCHEDULES:-"kcast-daily-day=0 10-23 * * *;kcast-daily-night=30 0-3 * * *"}

# Required settings: a real run refuses without them; a dry run shows <NAME> in their place.
MISSING=()
require() {
    local name=$1
    if [[ -z ${!name} ]]; then
        MISSING+=("$2")
        printf -v "$name" '<%s>' "$2"
    fi
}
require PROJECT KCAST_GCP_PROJECT
if [[ $PHASE != rollback && $PHASE != alerts && -z ${KCAST_IMAGE:-} ]]; then
    require IMAGE_TAG KCAST_IMAGE_TAG
fi
[[ $PHASE != schedule ]] || require SERVICE_ACCOUNT KCAST_SERVICE_ACCOUNT
if ((${#MISSING[@]})); then
    missing_list=$(printf ', %s' "${MISSING[@]}")
    missing_list=${missing_list#, }
    if ((DRY_RUN)); then
        printf '%s: dry run without %s: shown as <NAME> below\n' "$SCRIPT_NAME" "$missing_list" >&2
    else
        settings_error "set $missing_list (see --help); nothing was run"
    fi
fi

IMAGE=${KCAST_IMAGE:-${REGION}-docker.pkg.dev/${PROJECT}/${AR_REPO}/kcast-worker:${IMAGE_TAG}}
WAREHOUSE="bigquery://${PROJECT}/${DATASET}"

# An emulator endpoint left in the shell would send the migration to the emulator.
if [[ -n ${KCAST_BIGQUERY_ENDPOINT:-} ]]; then
    printf '%s: warning: ignoring KCAST_BIGQUERY_ENDPOINT=%s (deploys use the real BigQuery)\n' \
        "$SCRIPT_NAME" "$KCAST_BIGQUERY_ENDPOINT" >&2
    unset KCAST_BIGQUERY_ENDPOINT
fi

# Checks that catch a typo before anything runs.
check() {
    local name=$1 value=$2 pattern=$3 what=$4
    [[ $value =~ $pattern ]] || settings_error "$name=$value: $what"
}
if [[ $PROJECT != \<* ]]; then
    check KCAST_GCP_PROJECT "$PROJECT" '^[a-z][a-z0-9-]{4,28}[a-z0-9]$' "not a project id"
fi
check KCAST_SERVICE "$SERVICE" '^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$' "not a Cloud Run service name"
check KCAST_BASELINE_TAG "$BASELINE_TAG" '^[a-z]([a-z0-9-]*[a-z0-9])?$' "not a traffic tag"
check KCAST_BQ_DATASET "$DATASET" '^[A-Za-z0-9_]{1,1024}$' "not a BigQuery dataset name"
check KCAST_AUTH "$AUTH" '^(private|public)$' "use private or public"
check KCAST_BREAKER_FAILURES "$BREAKER_FAILURES" '^[1-9][0-9]*$' "a whole number, 1 or more"
check KCAST_BREAKER_COOLDOWN "$BREAKER_COOLDOWN" '^[0-9]*\.?[0-9]+$' "seconds, a number"
check KCAST_SYSTEM_TIMEOUT "$SYSTEM_TIMEOUT" '^[0-9]*\.?[0-9]+$' "seconds, a number"
check KCAST_MIN_AGREEMENT "$MIN_AGREEMENT" '^(0(\.[0-9]+)?|1(\.0+)?)$' "a share from 0 to 1"
check KCAST_PROXY_PORT "$PROXY_PORT" '^[1-9][0-9]{0,4}$' "a port number"
check KCAST_PROXY_WAIT "$PROXY_WAIT" '^[1-9][0-9]*$' "whole seconds"
check KCAST_DAILY_JOB "$DAILY_JOB" '^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$' "not a Cloud Run job name"
check KCAST_CACHE_DIR "$CACHE_DIR" '^/[^|]*$' "an absolute path in the container"
if [[ -n $ALERT_CHANNELS ]]; then
    check KCAST_ALERT_CHANNELS "$ALERT_CHANNELS" \
        '^projects/[^/,]+/notificationChannels/[^/,]+(,projects/[^/,]+/notificationChannels/[^/,]+)*$' \
        "comma-separated projects/PROJECT/notificationChannels/ID"
fi
if [[ -n $VALIDATE_DATE ]]; then
    check KCAST_VALIDATE_DATE "$VALIDATE_DATE" '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' "use YYYY-MM-DD"
fi

# --- printing and running commands -------------------------------------------------------

# One command on one line, each argument quoted for the shell where it needs it.
SAFE_ARG='^[A-Za-z0-9_./:=,@%+-]+$'
quote() {
    local out="" arg
    for arg in "$@"; do
        if [[ $arg =~ $SAFE_ARG ]]; then
            out+="$arg "
        else
            out+="'${arg//\'/\'\\\'\'}' "
        fi
    done
    printf '%s' "${out% }"
}

show() { printf '+ %s\n' "$(quote "$@")"; }
note() { printf '# %s\n' "$*"; }

# Print a command, and run it unless this is a dry run.
run() {
    show "$@"
    if ((DRY_RUN)); then return 0; fi
    "$@"
}

# --- Cloud Run state ---------------------------------------------------------------------

SERVICE_JSON=""
SERVICE_EXISTS=1

# Read the service's description (JSON) into SERVICE_JSON; SERVICE_EXISTS=0 when there is none.
describe_service() {
    local -a cmd=("$GCLOUD" run services describe "$SERVICE" --project="$PROJECT"
        --region="$REGION" --format=json)
    show "${cmd[@]}"
    if ((DRY_RUN)); then return 0; fi
    local err
    err=$(mktemp)
    if SERVICE_JSON=$("${cmd[@]}" 2>"$err"); then
        SERVICE_EXISTS=1
    elif grep -qiE 'cannot find service|not[ _]found|could not be found' "$err"; then
        SERVICE_EXISTS=0
        SERVICE_JSON=""
    else
        cat "$err" >&2
        rm -f "$err"
        die "could not describe service $SERVICE in $PROJECT/$REGION (see above)"
    fi
    rm -f "$err"
}

TRAFFIC_PY='
import json, sys
args = sys.argv[1:]
traffic = json.load(sys.stdin).get("status", {}).get("traffic", [])
if args[0] == "serving":
    print(", ".join(
        "%s %s%%" % (t.get("revisionName", "LATEST"), t["percent"])
        for t in traffic if t.get("percent")
    ) or "no traffic")
else:
    hits = [t for t in traffic if t.get("tag") == args[1] and t.get(args[2])]
    if not hits:
        sys.exit(1)
    print(hits[0][args[2]])
'

# Field (revisionName or url) of the traffic entry tagged $1, from SERVICE_JSON.
tagged() {
    if ((DRY_RUN)); then
        case "$2" in
            revisionName) printf '<revision tagged %s>' "$1" ;;
            url) printf 'https://%s---<service host>' "$1" ;;
        esac
        return 0
    fi
    [[ -n $SERVICE_JSON ]] || return 1
    printf '%s' "$SERVICE_JSON" | "$PYTHON" -c "$TRAFFIC_PY" tag "$1" "$2"
}

# Where traffic goes now, e.g. "kcast-worker-00003-abc 100%".
serving() {
    if ((DRY_RUN)) || [[ -z $SERVICE_JSON ]]; then
        printf 'as it was'
        return 0
    fi
    printf '%s' "$SERVICE_JSON" | "$PYTHON" -c "$TRAFFIC_PY" serving || printf 'unknown'
}

# --- validation (through a local authenticating proxy for a private service) -------------

PROXY_PID=""
PROXY_LOG=""

port_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_proxy() {
    if [[ -n $PROXY_PID ]]; then
        # The proxy leads its own process group: end it and whatever it started.
        kill -TERM -- "-$PROXY_PID" 2>/dev/null || kill -TERM "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
        PROXY_PID=""
    fi
    if [[ -n $PROXY_LOG ]]; then
        rm -f "$PROXY_LOG"
        PROXY_LOG=""
    fi
}
trap stop_proxy EXIT
trap 'stop_proxy; exit 130' INT
trap 'stop_proxy; exit 143' TERM

start_proxy() {
    local tag=$1
    local -a cmd=("$GCLOUD" run services proxy "$SERVICE" --project="$PROJECT" --region="$REGION"
        --tag="$tag" --port="$PROXY_PORT")
    show "${cmd[@]}"
    note "(the proxy runs in the background until validation ends)"
    if ((DRY_RUN)); then return 0; fi
    if port_open "$PROXY_PORT"; then
        die "port $PROXY_PORT is already in use: set KCAST_PROXY_PORT to a free port"
    fi
    PROXY_LOG=$(mktemp)
    set -m # a process group of its own, so stop_proxy can end the proxy's children too
    "${cmd[@]}" >"$PROXY_LOG" 2>&1 &
    PROXY_PID=$!
    set +m
    local tries=$((PROXY_WAIT * 4))
    until port_open "$PROXY_PORT"; do
        if ! kill -0 "$PROXY_PID" 2>/dev/null; then
            PROXY_PID=""
            die "the proxy stopped: $(cat "$PROXY_LOG")"
        fi
        tries=$((tries - 1))
        ((tries > 0)) || die "the proxy did not listen on port $PROXY_PORT within ${PROXY_WAIT}s"
        sleep 0.25
    done
}

# Run `kcast validate` against the revision tagged $1 (URL $2) expecting the systems in $3.
validate_revision() {
    local tag=$1 url=$2 systems=$3 target status
    if [[ $AUTH == private ]]; then
        start_proxy "$tag"
        target="http://127.0.0.1:${PROXY_PORT}"
    else
        target=$url
    fi
    local -a cmd=("$KCAST" validate --service-url "$target")
    local system
    for system in ${systems//,/ }; do
        cmd+=(--system "$system")
    done
    [[ -z $VALIDATE_DATE ]] || cmd+=(--date "$VALIDATE_DATE")
    cmd+=(--min-agreement "$MIN_AGREEMENT" --timeout "$VALIDATE_TIMEOUT")
    if [[ -n $TOKEN_SECRET ]]; then
        # kcast validate sends the worker's token (its batches store rows)
        show "$GCLOUD" secrets versions access latest --secret="$TOKEN_SECRET" --project="$PROJECT"
        if ((!DRY_RUN)); then
            KCAST_API_TOKEN=$("$GCLOUD" secrets versions access latest --secret="$TOKEN_SECRET" \
                --project="$PROJECT") || die "cannot read the secret $TOKEN_SECRET: traffic is unchanged"
            export KCAST_API_TOKEN
        fi
    fi
    status=0
    run "${cmd[@]}" || status=$?
    stop_proxy
    return "$status"
}

# --- the service's settings ---------------------------------------------------------------

VOLUME_FLAGS=()
MOUNTED_BUCKETS=()
ENV_PAIRS=()

# Add a model path setting: a gs:// bucket is mounted read-only and the container gets the
# mounted path; an absolute path is passed as it is.
add_model() {
    local name=$1 value=$2
    [[ -n $value ]] || return 0
    if [[ $value != gs://* ]]; then
        [[ $value == /* || $value == \<* ]] ||
            settings_error "$name=$value: give gs://BUCKET/PATH or an absolute path in the container"
        ENV_PAIRS+=("${name}=${value}")
        return 0
    fi
    local rest=${value#gs://}
    local bucket=${rest%%/*} object=${rest#*/} known index
    [[ $rest == */* && -n $bucket && -n $object ]] ||
        settings_error "$name=$value: give gs://BUCKET/PATH to a model file or a folder"
    ENV_PAIRS+=("${name}=${GCS_MOUNT_ROOT}/${bucket}/${object}")
    for known in "${MOUNTED_BUCKETS[@]}"; do
        [[ $known != "$bucket" ]] || return 0
    done
    index=${#MOUNTED_BUCKETS[@]}
    MOUNTED_BUCKETS+=("$bucket")
    VOLUME_FLAGS+=(
        "--add-volume=name=models-${index},type=cloud-storage,bucket=${bucket},readonly=true,mount-options=implicit-dirs"
        "--add-volume-mount=volume=models-${index},mount-path=${GCS_MOUNT_ROOT}/${bucket}"
    )
}

# The models: the registry's (downloaded into KCAST_CACHE_DIR), unless a path setting overrides.
add_models() {
    ENV_PAIRS+=("KCAST_CACHE_DIR=${CACHE_DIR}")
    add_model MLB_V1_MODEL_PATH "$V1_MODEL"
    add_model MLB_V1_6_MODEL_PATH "$V1_6_MODEL"
}

# Settings given to the service and the job as they are, when set.
add_passed_settings() {
    local name
    for name in KCAST_BIGQUERY_LOCATION MLB_ENSEMBLE_V1_WEIGHT MLB_ENSEMBLE_V1_6_WEIGHT \
        MLB_MIN_EDGE MLB_MIN_CONFIDENCE "$@"; do
        [[ -z ${!name:-} ]] || ENV_PAIRS+=("${name}=${!name}")
    done
}

if [[ -n $SYSTEMS ]]; then
    ENV_PAIRS+=("KCAST_WAREHOUSE=${WAREHOUSE}" "MLB_ACTIVE_SYSTEMS=${SYSTEMS}")
    add_models
    ENV_PAIRS+=(
        "KCAST_BREAKER_FAILURES=${BREAKER_FAILURES}"
        "KCAST_BREAKER_COOLDOWN=${BREAKER_COOLDOWN}"
        "KCAST_SYSTEM_TIMEOUT=${SYSTEM_TIMEOUT}"
    )
    add_passed_settings KCAST_RELOAD_SECONDS
    # The worker refuses to listen on 0.0.0.0 with writes open to anyone (kcast serve).
    if [[ $AUTH == private ]]; then
        [[ -z $TOKEN_SECRET ]] ||
            settings_error "KCAST_API_TOKEN_SECRET is for KCAST_AUTH=public; a private service is guarded by Cloud Run IAM"
        ENV_PAIRS+=("KCAST_ALLOW_UNAUTHENTICATED_WRITES=true")
    elif [[ -z $TOKEN_SECRET ]]; then
        settings_error "KCAST_AUTH=public needs KCAST_API_TOKEN_SECRET (a Secret Manager secret holding the worker's KCAST_API_TOKEN): without it anyone could overwrite stored predictions"
    fi
    for pair in "${ENV_PAIRS[@]}"; do
        [[ $pair != *"|"* ]] || settings_error "${pair%%=*} may not contain '|'"
    done
fi

# --set-env-vars' value: the pairs joined with | (gcloud's ^|^ prefix), so values may hold commas.
env_flag() {
    local IFS='|'
    printf -- '--set-env-vars=^|^%s' "${ENV_PAIRS[*]}"
}

# --- the steps ----------------------------------------------------------------------------

deploy_phase() {
    local tag=$PHASE
    note "kcast $PHASE: MLB_ACTIVE_SYSTEMS=$SYSTEMS on Cloud Run service $SERVICE ($PROJECT, $REGION)"
    note "image $IMAGE; warehouse $WAREHOUSE"
    ((!DRY_RUN)) || note "dry run: the commands are printed, nothing is run"

    note "step 1/5: migrate the warehouse, before any revision of this version starts"
    run "$KCAST" warehouse migrate --warehouse "$WAREHOUSE" ||
        die "the migration failed: nothing was deployed, traffic is unchanged"

    note "step 2/5: deploy a new revision, tagged $tag, that gets no traffic"
    describe_service
    local before
    before=$(serving)
    if [[ $PHASE != phase1 ]] && ((!DRY_RUN)) && ! tagged "$BASELINE_TAG" revisionName >/dev/null; then
        printf '%s: warning: no revision is tagged %s, so rollback has no target: run phase1 first\n' \
            "$SCRIPT_NAME" "$BASELINE_TAG" >&2
    fi
    local -a deploy=("$GCLOUD" run deploy "$SERVICE" --project="$PROJECT" --region="$REGION"
        --image="$IMAGE" --quiet)
    if ((SERVICE_EXISTS)); then
        deploy+=(--no-traffic)
    else
        note "service $SERVICE does not exist yet: Cloud Run creates it with this first revision" \
            "serving (--no-traffic is refused on creation)"
    fi
    ((!DRY_RUN)) || note "(on the first deploy, when the service does not exist, --no-traffic is left out)"
    deploy+=(--tag="$tag" --port=8080 --execution-environment=gen2
        --cpu="$CPU" --memory="$MEMORY" --concurrency="$CONCURRENCY" --timeout="$REQUEST_TIMEOUT"
        --min-instances="$MIN_INSTANCES" --max-instances="$MAX_INSTANCES"
        --labels="app=kcast,kcast-phase=${PHASE}")
    if [[ $AUTH == private ]]; then
        deploy+=(--no-allow-unauthenticated)
    else
        deploy+=(--allow-unauthenticated)
    fi
    [[ -z $SERVICE_ACCOUNT ]] || deploy+=(--service-account="$SERVICE_ACCOUNT")
    [[ -z $TOKEN_SECRET ]] || deploy+=(--set-secrets="KCAST_API_TOKEN=${TOKEN_SECRET}:latest")
    deploy+=(--clear-volumes --clear-volume-mounts "${VOLUME_FLAGS[@]}" "$(env_flag)")
    run "${deploy[@]}" || die "the deploy failed: traffic is unchanged ($before)"

    note "step 3/5: find the new revision and its URL (traffic tag $tag)"
    describe_service
    local revision url
    revision=$(tagged "$tag" revisionName) || die "no revision is tagged $tag after the deploy"
    url=$(tagged "$tag" url) || die "the revision tagged $tag has no URL"
    note "new revision: $revision at $url"

    note "step 4/5: validate the new revision ($SYSTEMS); traffic is unchanged so far"
    if ! validate_revision "$tag" "$url" "$SYSTEMS"; then
        if ((SERVICE_EXISTS)); then
            die "validation failed: traffic left where it was ($before); the new revision" \
                "$revision stays reachable at tag $tag for inspection"
        fi
        die "validation failed on the service's first revision $revision (it already serves;" \
            "there was nothing before it)"
    fi

    note "step 5/5: validation passed: send all traffic to $revision"
    local -a traffic=("$GCLOUD" run services update-traffic "$SERVICE" --project="$PROJECT"
        --region="$REGION" --to-revisions="${revision}=100")
    if [[ $PHASE == phase1 ]]; then
        note "(and tag it $BASELINE_TAG: the revision that rollback returns to)"
        traffic+=(--update-tags="${BASELINE_TAG}=${revision}")
    fi
    run "${traffic[@]}" || die "the traffic switch failed: traffic is where it was ($before)"
    note "done: $SERVICE serves $SYSTEMS from $revision"
}

rollback() {
    note "rollback: send all traffic to the revision tagged $BASELINE_TAG (v1_baseline only," \
        "validated by phase1), then check it; nothing is rebuilt or migrated"
    ((!DRY_RUN)) || note "dry run: the commands are printed, nothing is run"
    describe_service
    ((SERVICE_EXISTS)) || die "service $SERVICE does not exist in $PROJECT/$REGION"
    local revision url before
    before=$(serving)
    revision=$(tagged "$BASELINE_TAG" revisionName) ||
        die "no revision of $SERVICE is tagged $BASELINE_TAG (phase1 never passed validation" \
            "here, or the tag was removed): run '$SCRIPT_NAME phase1' to deploy and validate" \
            "v1_baseline only; traffic is unchanged ($before)"
    url=$(tagged "$BASELINE_TAG" url) || url=""
    run "$GCLOUD" run services update-traffic "$SERVICE" --project="$PROJECT" --region="$REGION" \
        --to-tags="${BASELINE_TAG}=100" ||
        die "the traffic switch failed: traffic is where it was ($before)"
    note "traffic is on $revision; checking it serves v1_baseline"
    validate_revision "$BASELINE_TAG" "$url" v1_baseline ||
        die "traffic IS on $revision ($BASELINE_TAG) but it failed validation: see the checks" \
            "above and docs/operations.md (Troubleshooting)"
    note "done: $SERVICE serves v1_baseline from $revision"
}

build() {
    note "build $IMAGE with Cloud Build from $REPO_ROOT (the Dockerfile and .dockerignore there)"
    if ((!DRY_RUN)) && [[ -n $(git -C "$REPO_ROOT" status --porcelain 2>/dev/null) ]]; then
        printf '%s: warning: the work tree has uncommitted changes; they go into the image\n' \
            "$SCRIPT_NAME" >&2
    fi
    run "$GCLOUD" builds submit "$REPO_ROOT" --project="$PROJECT" --region="$REGION" \
        --tag="$IMAGE" || die "the build failed"
}

# The daily job: `kcast daily` as a Cloud Run job, started by Cloud Scheduler. Every run does
# only what is new (docs/operations.md), so the schedules may overlap and retries are harmless.
schedule() {
    note "schedule: Cloud Run job $DAILY_JOB runs \`kcast daily\` ($PROJECT, $REGION)," \
        "started by Cloud Scheduler (America/New_York)"
    note "image $IMAGE; warehouse $WAREHOUSE"
    ((!DRY_RUN)) || note "dry run: the commands are printed, nothing is run"

    note "step 1/3: migrate the warehouse"
    run "$KCAST" warehouse migrate --warehouse "$WAREHOUSE" ||
        die "the migration failed: the daily job was not changed"

    note "step 2/3: deploy the Cloud Run job $DAILY_JOB"
    ENV_PAIRS=("KCAST_WAREHOUSE=${WAREHOUSE}")
    [[ -z ${MLB_ACTIVE_SYSTEMS:-} ]] || ENV_PAIRS+=("MLB_ACTIVE_SYSTEMS=${MLB_ACTIVE_SYSTEMS}")
    add_models
    add_passed_settings
    run "$GCLOUD" run jobs deploy "$DAILY_JOB" --project="$PROJECT" --region="$REGION" \
        --image="$IMAGE" --command=kcast --args=daily --tasks=1 --max-retries=0 \
        --task-timeout=1800 --cpu="$CPU" --memory="$MEMORY" \
        --service-account="$SERVICE_ACCOUNT" --labels=app=kcast,kcast-job=daily \
        --set-secrets="ODDS_API_KEY=${ODDS_SECRET}:latest" \
        "${VOLUME_FLAGS[@]}" "$(env_flag)" --quiet ||
        die "the job deploy failed: the schedules were not changed"

    note "step 3/3: the Cloud Scheduler jobs that start it"
    local uri="https://run.googleapis.com/v2/projects/${PROJECT}/locations/${REGION}/jobs/${DAILY_JOB}:run"
    local entry name cron verb
    local -a entries
    IFS=';' read -r -a entries <<<"$DAILY_SCHEDULES"
    for entry in "${entries[@]}"; do
        name=${entry%%=*}
        cron=${entry#*=}
        [[ $name =~ ^[a-z][a-z0-9-]*$ && -n $cron && $entry == *=* ]] ||
            settings_error "KCAST_DAILY_SCHEDULES: '$entry' is not NAME=CRON"
        verb=create
        if ((!DRY_RUN)) && "$GCLOUD" scheduler jobs describe "$name" --project="$PROJECT" \
            --location="$REGION" >/dev/null 2>&1; then
            verb=update
        fi
        ((!DRY_RUN)) || note "(update instead of create when $name exists)"
        run "$GCLOUD" scheduler jobs "$verb" http "$name" --project="$PROJECT" \
            --location="$REGION" --schedule="$cron" --time-zone=America/New_York \
            --uri="$uri" --http-method=POST --oauth-service-account-email="$SERVICE_ACCOUNT" \
            --attempt-deadline=1800s ||
            die "the scheduler job $name could not be ${verb}d"
    done
    note "done: $DAILY_JOB runs on ${DAILY_SCHEDULES//;/, } (America/New_York)"
}

# The alert policies: deploy/monitoring/*.json, each created or (when one of its display name
# exists) updated. Their PromQL conditions read the worker's /metrics as collected by Google
# Cloud Managed Service for Prometheus.
alerts() {
    note "alerts: the Cloud Monitoring alert policies in deploy/monitoring ($PROJECT)"
    ((!DRY_RUN)) || note "dry run: the commands are printed, nothing is run"
    local file display existing
    local -a files find
    files=("$REPO_ROOT"/deploy/monitoring/*.json)
    [[ -e ${files[0]} ]] || die "no alert policies in $REPO_ROOT/deploy/monitoring"
    for file in "${files[@]}"; do
        display="kcast: $(basename "$file" .json)"
        find=("$GCLOUD" monitoring policies list --project="$PROJECT"
            --filter="displayName=\"$display\"" --format="value(name)")
        show "${find[@]}"
        existing=""
        if ((!DRY_RUN)); then
            existing=$("${find[@]}") || die "cannot list the alert policies of $PROJECT"
            existing=${existing%%$'\n'*}
        fi
        if [[ -n $existing ]]; then
            local -a update=("$GCLOUD" monitoring policies update "$existing" --project="$PROJECT"
                --policy-from-file="$file")
            [[ -z $ALERT_CHANNELS ]] || update+=(--set-notification-channels="$ALERT_CHANNELS")
            run "${update[@]}" || die "the policy '$display' could not be updated"
        else
            ((!DRY_RUN)) || note "(update instead of create when a policy '$display' exists)"
            local -a create=("$GCLOUD" monitoring policies create --project="$PROJECT"
                --policy-from-file="$file")
            [[ -z $ALERT_CHANNELS ]] || create+=(--notification-channels="$ALERT_CHANNELS")
            run "${create[@]}" || die "the policy '$display' could not be created"
        fi
    done
    note "done: ${#files[@]} alert policies (docs/operations.md, Monitoring)"
}

case "$PHASE" in
    phase1 | phase2 | phase3) deploy_phase ;;
    rollback) rollback ;;
    build) build ;;
    schedule) schedule ;;
    alerts) alerts ;;
esac
