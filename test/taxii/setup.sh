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

# The stamp ties the venv to the pinned set and to the interpreter that built it:
# a venv made by another Python (a pyenv switch, an OS upgrade) has dangling links.
stamp_value="$( (cat "$requirements"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
stamp="$venv/.forestall-stamp"
is_warm() { [ -x "$venv/bin/medallion" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_value" ]; }

reuse_or_lock "$venv/bin/medallion" "$cache/medallion-venv.lock" is_warm

log "creating $venv (medallion from PyPI; takes under a minute)"
rm -rf "$venv"
if ! "$python" -m venv "$venv" >&2; then
  log "python -m venv failed; on Debian/Ubuntu install the venv module: apt-get install python3-venv"
  rm -rf "$venv"
  exit 1
fi
# --no-deps with a fully pinned list: the installed set is exactly requirements.txt.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps -r "$requirements" >&2
# Importing the app proves the dependency set is complete (pip --no-deps does not check).
"$venv/bin/python" -c 'import medallion, medallion.backends.memory_backend, medallion.scripts.run' >&2
[ -x "$venv/bin/medallion" ] || { log "pip installed medallion but $venv/bin/medallion is missing"; exit 1; }
echo "$stamp_value" > "$stamp"
log "medallion $("$venv/bin/python" -c 'import medallion; print(medallion.__version__)') ready"
echo "$venv/bin/medallion"
