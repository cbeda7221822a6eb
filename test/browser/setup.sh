#!/usr/bin/env bash
# Installs Debian's Chromium for the readiness report's browser test
# (test/integration/readiness-html.test.ts), which drives it with playwright-core over
# CDP. Nothing is downloaded but Debian's packages: a test tool's download of its own
# browser build (npx playwright install) cannot reach its host from here.
#
# Installs, when missing: chromium (/usr/bin/chromium) and fonts-dejavu-core, so that
# text on the page has glyphs and the screenshot shows it. Needs root (CI runs as
# root). Prints the browser's version as the last line on stdout. Any failure exits
# non-zero: the browser test must fail, never skip, without a browser.
set -euo pipefail
log() { echo "[browser] $*" >&2; }

packages=(chromium fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { log "missing ${missing[*]}: run this script as root (apt-get)"; exit 1; }
  start=$SECONDS
  log "installing Debian packages: ${missing[*]}"
  apt_log=$(mktemp)
  # The lock timeout: another set-up script (test/node/build.sh) may be installing too.
  if ! { apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"; } \
      >"$apt_log" 2>&1; then
    tail -20 "$apt_log" >&2; log "apt-get failed for: ${missing[*]} (log: $apt_log)"; exit 1
  fi
  rm -f "$apt_log"
  log "installed packages in $((SECONDS - start))s"
fi
[ -x /usr/bin/chromium ] || { log "/usr/bin/chromium is missing after installing chromium"; exit 1; }
/usr/bin/chromium --version
