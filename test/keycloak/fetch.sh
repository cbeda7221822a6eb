#!/usr/bin/env bash
# Fetches the Keycloak server the identity-connector integration tests run against
# (issue 7: "Keycloak from Maven Central (keycloak-quarkus-dist, a version that runs
# on the machine's JDK)"). Maven downloads the org.keycloak:keycloak-quarkus-dist zip
# from Maven Central; nothing else is downloaded.
#
# Output (printed as the last line on stdout): the Keycloak home, the directory
# holding bin/kc.sh, already built (augmented) for the tests,
#   ${FORESTALL_CACHE:-$HOME/.cache/forestall}/keycloak/<version>/keycloak-<version>
# (or $FORESTALL_KEYCLOAK_HOME when set: nothing is fetched, it must hold bin/kc.sh).
# Progress and timings go to stderr. A complete home in the cache is reused, so a
# warm run takes well under a second; an unpack or build that was interrupted (no
# .complete marker) is removed and redone. Any failure exits non-zero: the tests that
# need Keycloak must fail, never skip, when it cannot be fetched. CI=true changes
# nothing: Maven always runs in batch mode without progress output.
#
# After unpacking, `kc.sh build` fixes the build-time options once, here, so that
# every test server starts with `kc.sh start --optimized` and nothing ever writes into
# this shared directory at test time (the servers' data go to their own temp dirs):
#   --db=dev-file         embedded H2, one file per server (its URL is a runtime option)
#   --health-enabled=true /health/ready on the management port, for readiness
# `start-dev` cannot be used that way: it refuses a prior build and re-augments the
# distribution in place on its first start (about 30 s), which two test processes
# starting at once would do together. test/harness/keycloak-server.ts gives the
# runtime options that make production mode behave like development mode on loopback.
#
# Needs java (17 or newer; $JAVA_HOME/bin/java when JAVA_HOME is set, as kc.sh does),
# mvn and unzip. Maven keeps its own copy of the zip in the local repository (~/.m2),
# so a cache wiped by hand is refilled without a download; the copy made into the
# cache is deleted once the home is complete.
#
# The version is pinned in KEYCLOAK_VERSION beside this script. See that choice
# explained in test/harness/keycloak-server.ts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KEYCLOAK_VERSION=$(tr -d '[:space:]' < "$here/KEYCLOAK_VERSION")
cache=${FORESTALL_CACHE:-$HOME/.cache/forestall}
out_dir="$cache/keycloak/$KEYCLOAK_VERSION"
home="$out_dir/keycloak-$KEYCLOAK_VERSION"
marker="$home/.complete"
# Pinned so that the goal and its options do not change with the Maven install.
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

log() { echo "[keycloak] $*" >&2; }
# shellcheck source=../cache.sh
. "$here/../cache.sh"

use_given FORESTALL_KEYCLOAK_HOME /bin/kc.sh
reuse_or_lock "$home" "$out_dir.lock" test -f "$marker"
mkdir -p "$out_dir"

for tool in java mvn unzip; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool not found: Keycloak is fetched with Maven and needs a JDK and unzip"; exit 1; }
done

start=$SECONDS
zip="$out_dir/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
if [ ! -s "$zip" ]; then
  log "fetching org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip from Maven Central (about 200 MB when not in ~/.m2)"
  # -B: batch mode, no colours or prompts (as in CI); -ntp: no per-chunk progress lines.
  if ! mvn -B -ntp -Dstyle.color=never "$DEPENDENCY_PLUGIN:copy" \
    -Dartifact="org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip" \
    -DoutputDirectory="$out_dir" -Dmdep.overWriteReleases=true > "$out_dir/mvn.log" 2>&1; then
    log "mvn could not fetch keycloak-quarkus-dist ${KEYCLOAK_VERSION}; the end of $out_dir/mvn.log:"
    tail -n 30 "$out_dir/mvn.log" >&2
    exit 1
  fi
  [ -s "$zip" ] || { log "mvn reported success but $zip is missing"; exit 1; }
  log "fetched in $((SECONDS - start))s"
fi

# Whatever is left of an earlier, interrupted unpack is redone from scratch.
unpack_start=$SECONDS
rm -rf "$home" "$out_dir/unpack.tmp"
mkdir "$out_dir/unpack.tmp"
# A zip that does not unpack (a copy cut short) is deleted, so the next run copies it again.
unzip -q "$zip" -d "$out_dir/unpack.tmp" || { rm -f "$zip"; log "cannot unpack $zip; deleted it, run again to fetch it anew"; exit 1; }
[ -x "$out_dir/unpack.tmp/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" ] \
  || { log "the zip has no keycloak-$KEYCLOAK_VERSION/bin/kc.sh"; exit 1; }
mv "$out_dir/unpack.tmp/keycloak-$KEYCLOAK_VERSION" "$home"
rmdir "$out_dir/unpack.tmp"
log "unpacked in $((SECONDS - unpack_start))s"

build_start=$SECONDS
log "building the server image (kc.sh build: Quarkus augmentation, about 30 s on 2 cores)"
# Without the caller's KC_* options (they would be persisted into the build) and
# JAVA_OPTS/DEBUG, which kc.sh would honour.
if ! (
  while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(KC_|KEYCLOAK_)' || true)
  unset JAVA_OPTS JAVA_ADD_OPENS DEBUG DEBUG_PORT PRINT_ENV
  exec "$home/bin/kc.sh" build --db=dev-file --health-enabled=true
) > "$out_dir/build.log" 2>&1; then
  log "kc.sh build failed; the end of $out_dir/build.log:"
  tail -n 30 "$out_dir/build.log" >&2
  exit 1
fi
log "built in $((SECONDS - build_start))s"
rm -f "$zip"
touch "$marker"
log "keycloak ${KEYCLOAK_VERSION} ready in $((SECONDS - start))s"
echo "$home"
