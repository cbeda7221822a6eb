# Sourced by the scripts that build or install a test server into the shared cache
# (gitea/build.sh, keycloak/fetch.sh, prometheus/build.sh, proxy/setup.sh,
# scim/setup.sh, taxii/setup.sh). Each of them prints its result (a binary, home or
# venv) as the last line on stdout and defines log() before calling these.

# use_given VAR [PATH]: when $VAR is set nothing is built or fetched: $VAR$PATH must be
# executable, and $VAR is printed as the result. Returns when $VAR is unset.
use_given() {
  local name=$1 inside=${2:-} value=${!1:-}
  [ -n "$value" ] || return 0
  if [ ! -x "$value$inside" ]; then
    if [ -n "$inside" ]; then log "$name=$value has no executable ${inside#/}"; else log "$name=$value is not an executable"; fi
    exit 1
  fi
  log "using $name=$value as it is"
  echo "$value"
  exit 0
}

# reuse_cached RESULT TEST...: when the command TEST... succeeds, what the script makes
# is already in the cache: RESULT is printed and the script exits 0.
reuse_cached() {
  local result=$1
  shift
  if "$@"; then
    echo "$result"
    exit 0
  fi
}

# reuse_or_lock RESULT LOCKFILE TEST...: reuse_cached, else lock_cache and reuse_cached
# again, so that a run which waited on the lock takes what the other run made.
reuse_or_lock() {
  local result=$1 lockfile=$2
  shift 2
  reuse_cached "$result" "$@"
  lock_cache "$lockfile"
  reuse_cached "$result" "$@"
}

# lock_cache LOCKFILE: two runs at once (CI set-up and a test, two checkouts) must not
# build the same thing together. Holds LOCKFILE on fd 9 until the script exits; flock
# is in util-linux, and without it we just go ahead. Check the cache again once it
# returns: the run that held the lock may have filled it.
lock_cache() {
  mkdir -p "$(dirname "$1")"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$1"
    flock 9
  fi
}

# require_python MINOR WHAT: $python (the script's interpreter, FORESTALL_PYTHON or
# python3) must exist and be Python 3.MINOR or later, as WHAT needs.
require_python() {
  local minor=$1 what=$2
  command -v "$python" >/dev/null 2>&1 || { log "$python not found: $what needs Python 3.$minor or later"; exit 1; }
  "$python" -c "import sys; sys.exit(0 if sys.version_info >= (3, $minor) else 1)" \
    || { log "$("$python" --version 2>&1) is too old: $what needs Python 3.$minor or later (set FORESTALL_PYTHON)"; exit 1; }
}

# Python venvs of pinned wheels (proxy/setup.sh, scim/setup.sh, taxii/setup.sh). The
# script sets $python (the interpreter), $requirements (the pinned, hashed set) and
# $venv before calling these.

# venv_stamp PYTHON_EXPR: sets $stamp (the venv's stamp file) and $stamp_value, which
# ties the venv to $requirements and to the interpreter that built it (PYTHON_EXPR
# printed by it): a venv made by another Python (a pyenv switch, an OS upgrade) has
# dangling links.
venv_stamp() {
  stamp="$venv/.forestall-stamp"
  stamp_value="$( (cat "$requirements"; "$python" -c "import sys; print($1)") | sha256sum | cut -d' ' -f1)"
}

# venv_warm BIN: $venv/bin/BIN is there and the venv carries $stamp_value.
venv_warm() { [ -x "$venv/bin/$1" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_value" ]; }

# new_venv [VENV_FLAG...]: $venv made afresh by `$python -m venv`, or exit.
new_venv() {
  rm -rf "$venv"
  if ! "$python" -m venv "$@" "$venv" >&2; then
    log "python -m venv failed; on Debian/Ubuntu install the venv module: apt-get install python3-venv"
    rm -rf "$venv"
    exit 1
  fi
}

# pip_install_pinned WHY PIP...: installs exactly $requirements with the pip command
# PIP...: every file must match a hash of requirements.txt (--require-hashes), the set
# is exactly requirements.txt (--no-deps), wheels only, no compiler (--only-binary).
# On failure the venv is removed and the script exits, saying WHY it is needed.
pip_install_pinned() {
  local why=$1
  shift
  if ! PIP_ROOT_USER_ACTION=ignore "$@" --quiet --disable-pip-version-check --no-input \
    --require-hashes --no-deps --only-binary=:all: -r "$requirements" >&2; then
    log "pip install -r $requirements failed (see above); $why"
    rm -rf "$venv"
    exit 1
  fi
}

# stamp_venv PACKAGE BIN: $venv/bin/BIN must be there (else the venv is removed and the
# script exits); then the venv is stamped, so venv_warm holds from now on.
stamp_venv() {
  [ -x "$venv/bin/$2" ] || { log "pip installed $1 but $venv/bin/$2 is missing"; rm -rf "$venv"; exit 1; }
  echo "$stamp_value" > "$stamp"
}
