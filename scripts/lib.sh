# Shared helpers for the scripts in this folder (sourced, not run).
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1

_stage_started=0
_stage_name=""

stage() {
  stage_done
  _stage_name="$1"
  _stage_started=$(date +%s)
  printf '\n==> %s\n' "$1"
}

stage_done() {
  if [ -n "$_stage_name" ]; then
    printf '<== %s: %ss\n' "$_stage_name" "$(( $(date +%s) - _stage_started ))"
    _stage_name=""
  fi
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# apt packages, installed only when missing and only where we can (root on Debian/Ubuntu).
ensure_apt_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Packages whose binaries the tests and the bench run themselves (caddy, redis-server): installed
# without starting or enabling the system services their Debian packages come with.
ensure_tool_packages() {
  local sudo="" policy=/usr/sbin/policy-rc.d
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -e "$policy" ]; then
    ensure_apt_packages "$@"
    return
  fi
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy"
  ensure_apt_packages "$@" || { $sudo rm -f "$policy"; return 1; }
  $sudo rm -f "$policy"
  if [ -d /run/systemd/system ]; then
    local pkg
    for pkg in "$@"; do
      $sudo systemctl disable --now "$pkg" >/dev/null 2>&1 || true
    done
  fi
}

python_for_venv() {
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# The project's virtualenv, with the exact versions of requirements/<lock>.lock.
ensure_venv() {
  local lock="$ROOT/requirements/$1.lock"
  local python
  if ! python=$(python_for_venv); then
    ensure_apt_packages python3 python3-venv python3-pip
    python=$(python_for_venv) || die "Python 3.11 or newer with venv is needed"
  fi
  [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
  local stamp="$VENV/.installed-$1"
  local want
  want=$(cat "$lock" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$lock"
    "$VENV/bin/pip" install -q --no-deps -e "$ROOT"
    echo "$want" > "$stamp"
  fi
}

# Closes every descriptor above 2 in the current (sub)shell, so that a daemon started from it holds
# nothing of its caller's: a lock taken with flock(1), a pipe someone waits on.
close_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

# A Docker engine that answers, with Swarm active. A running engine is used as it is (a user's
# machine); otherwise, as root on Debian/Ubuntu, docker.io is installed and dockerd started in the
# background (log: .cache/dockerd.log). A one-node Swarm is initialised when none is active.
ensure_docker_swarm() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || ensure_apt_packages docker.io
    if ! docker info >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      $sudo systemctl start docker >/dev/null 2>&1 || true
    fi
    if ! docker info >/dev/null 2>&1; then
      [ "$(id -u)" -eq 0 ] ||
        die "the Docker engine is not running or not usable by $(id -un): start it (sudo systemctl start docker)"
      mkdir -p "$ROOT/.cache"
      echo "starting dockerd (log: .cache/dockerd.log)"
      # Without the descriptors this shell inherited: started under `flock /tmp/cek-deploy.lock`,
      # dockerd would otherwise hold the lock for as long as it runs.
      (close_inherited_fds && exec setsid dockerd >"$ROOT/.cache/dockerd.log" 2>&1 </dev/null) &
      local waited=0
      until docker info >/dev/null 2>&1; do
        [ "$waited" -lt 60 ] || die "dockerd did not answer within 60 s; see .cache/dockerd.log"
        sleep 1
        waited=$((waited + 1))
      done
    fi
  fi
  if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
    echo "initialising a one-node Swarm"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  fi
}

# `pulumi up` for a stack, then the deploy command that waits for the rollout: `pulumi up` returns
# once every slot has a running task (the docker provider's wait), not once every task runs the new
# spec. `python -m infra.converge` exits 0 only then, and non-zero naming the service and the failed
# task's error on a failed or rolled-back update; after converging it prunes unused secret versions.
deploy_stack() {
  local stack="$1"
  shift
  stage "pulumi up"
  pulumi up --stack "$stack" --policy-pack policies "$@"
  stage "rollout"
  "$VENV/bin/python" -m infra.converge --stack "$stack"
}
