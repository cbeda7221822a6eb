#!/usr/bin/env bash
# Installs scim2-server (a SCIM 2.0 server of the python-scim project, from PyPI) into
# a venv kept outside the repo, so the SCIM connector tests talk to a real server.
#
# Output (printed as the last line on stdout): the path of the venv,
#   ${FORESTALL_CACHE:-$HOME/.cache/forestall}/scim2-server/<version>/venv
# whose bin/scim2-server is the server's command; <version> is the scim2-server pin of
# requirements.txt beside this script. When $FORESTALL_SCIM_VENV is set, nothing is
# installed: that venv must already hold bin/scim2-server, and its path is printed.
#
# Progress and timings go to stderr. The venv is reused while its stamp matches
# requirements.txt and the Python in use, so a warm run takes well under a second.
# Any failure exits non-zero: the tests that need the server must fail, never skip,
# when it cannot be installed.
set -euo pipefail
started_ns=$(date +%s%N)
here=$(cd "$(dirname "$0")" && pwd)
requirements="$here/requirements.txt"
python=${FORESTALL_PYTHON:-python3}

log() { echo "[scim] $*" >&2; }
elapsed() { echo "$(( ($(date +%s%N) - started_ns) / 1000000 )) ms"; }
# shellcheck source=../cache.sh
. "$here/../cache.sh"

use_given FORESTALL_SCIM_VENV /bin/scim2-server

version=$(sed -n 's/^scim2-server==\([^ \\]*\).*/\1/p' "$requirements")
[ -n "$version" ] || { log "no 'scim2-server==<version>' pin in $requirements"; exit 1; }
cache=${FORESTALL_CACHE:-$HOME/.cache/forestall}
base="$cache/scim2-server/$version"
venv="$base/venv"

require_python 11 "scim2-server $version (with scim2-models)"

venv_stamp 'sys.executable, sys.version'
is_warm() { venv_warm scim2-server; }

if is_warm; then
  log "scim2-server $version already installed in $venv (checked in $(elapsed))"
  echo "$venv"
  exit 0
fi

lock_cache "$base/venv.lock"
if is_warm; then
  log "scim2-server $version installed by a concurrent run in $venv (waited $(elapsed))"
  echo "$venv"
  exit 0
fi

log "creating $venv (scim2-server $version and its pinned dependencies from PyPI)"
new_venv
log "venv created after $(elapsed)"
pip_install_pinned 'scim2-server is required for the SCIM tests' "$venv/bin/python" -m pip install
log "packages installed after $(elapsed)"
# Importing the server proves the dependency set is complete (pip --no-deps does
# not check) and that the pinned version is the one installed.
installed=$("$venv/bin/python" -c '
import importlib.metadata as m
import scim2_server.testserver.cli, scim2_server.memory, scim2_models
print(m.version("scim2-server"))
')
[ "$installed" = "$version" ] || { log "installed scim2-server is $installed, not the pinned $version"; rm -rf "$venv"; exit 1; }
stamp_venv scim2-server scim2-server
log "scim2-server $version ready in $venv (cold set-up took $(elapsed))"
echo "$venv"
