#!/usr/bin/env bash
# Installs medallion (the OASIS TAXII 2.1 reference server, from PyPI) into a venv
# kept outside the repo, so the TAXII integration tests talk to the real server.
#
# Output (printed as the last line on stdout): the path of the medallion executable.
# Progress goes to stderr. The venv is
#   ${FORESTALL_CACHE:-$HOME/.cache/forestall}/medallion-venv
# and is reused while its stamp matches requirements.txt and the Python in use, so
# a warm run takes well under a second. Any failure exits non-zero: the tests that
# need medallion must fail, never skip, when it cannot be installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${FORESTALL_CACHE:-$HOME/.cache/forestall}
venv="$cache/medallion-venv"
requirements="$here/requirements.txt"
python=${FORESTALL_PYTHON:-python3}

log() { echo "[taxii] $*" >&2; }
# shellcheck source=../cache.sh
. "$here/../cache.sh"

require_python 9 'medallion (with Flask 3.1)'

venv_stamp 'sys.version'
reuse_or_lock "$venv/bin/medallion" "$cache/medallion-venv.lock" venv_warm medallion

log "creating $venv (medallion from PyPI; takes under a minute)"
new_venv
# --no-deps with a fully pinned list: the installed set is exactly requirements.txt.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps -r "$requirements" >&2
# Importing the app proves the dependency set is complete (pip --no-deps does not check).
"$venv/bin/python" -c 'import medallion, medallion.backends.memory_backend, medallion.scripts.run' >&2
stamp_venv medallion medallion
log "medallion $("$venv/bin/python" -c 'import medallion; print(medallion.__version__)') ready"
echo "$venv/bin/medallion"
