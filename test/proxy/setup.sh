#!/usr/bin/env bash
# Installs proxy.py (a forward HTTP proxy from PyPI: CONNECT tunnels, absolute-form
# requests, Basic proxy authentication) into a venv kept outside the repo, so the
# outbound-proxy tests go through a real proxy.
#
# Output (printed as the last line on stdout): the path of the venv,
#   ${FORESTALL_CACHE:-$HOME/.cache/forestall}/proxy.py/<version>/venv
# whose bin/proxy is the proxy's command; <version> is the proxy.py pin of
# requirements.txt beside this script. When $FORESTALL_PROXY_VENV is set, nothing is
# installed: that venv must already hold bin/proxy, and its path is printed.
#
# Progress and timings go to stderr. The venv is reused while its stamp matches
# requirements.txt and the Python in use (a warm run takes well under a second; a cold
# one about 3 s). Any failure exits non-zero: the tests
# that need the proxy must fail, never skip, when it cannot be installed.
set -euo pipefail
started_ns=$(date +%s%N)
here=$(cd "$(dirname "$0")" && pwd)
requirements="$here/requirements.txt"
python=${FORESTALL_PYTHON:-python3}

log() { echo "[proxy] $*" >&2; }
elapsed() { echo "$(( ($(date +%s%N) - started_ns) / 1000000 )) ms"; }
# shellcheck source=../cache.sh
. "$here/../cache.sh"

use_given FORESTALL_PROXY_VENV /bin/proxy

version=$(sed -n 's/^proxy\.py==\([^ \\]*\).*/\1/p' "$requirements")
[ -n "$version" ] || { log "no 'proxy.py==<version>' pin in $requirements"; exit 1; }
cache=${FORESTALL_CACHE:-$HOME/.cache/forestall}
base="$cache/proxy.py/$version"
venv="$base/venv"

require_python 8 "proxy.py $version"

venv_stamp 'sys.executable, sys.version'
reuse_or_lock "$venv" "$base/venv.lock" venv_warm proxy

log "creating $venv (proxy.py $version from PyPI)"
# --without-pip: the wheel has no dependencies, so the venv needs no pip of its own: the
# interpreter's pip installs into it (pip --python, pip 22.3 and later), which saves most
# of a cold set-up. Where that pip is missing or older, the venv gets its own (ensurepip).
new_venv --without-pip
if "$python" -m pip --python "$venv/bin/python" --version >/dev/null 2>&1; then
  pip_install=("$python" -m pip --python "$venv/bin/python" install)
else
  "$venv/bin/python" -m ensurepip --default-pip >&2 || { log "ensurepip failed in $venv"; rm -rf "$venv"; exit 1; }
  pip_install=("$venv/bin/python" -m pip install)
fi
log "venv created after $(elapsed)"
pip_install_pinned 'proxy.py is required for the outbound-proxy tests' "${pip_install[@]}"
log "package installed after $(elapsed)"
installed=$("$venv/bin/python" -c '
import importlib.metadata as m
import proxy
print(m.version("proxy.py"))
')
[ "$installed" = "$version" ] || { log "installed proxy.py is $installed, not the pinned $version"; rm -rf "$venv"; exit 1; }
stamp_venv proxy.py proxy
log "proxy.py $version ready in $venv (cold set-up took $(elapsed))"
echo "$venv"
