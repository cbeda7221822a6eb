# syntax=docker/dockerfile:1
# Forestall controller and CLI image.
#
#   docker build -t ghcr.io/forestall/forestall:0.1.0 .
#
# Three stages: build compiles the TypeScript with the dev dependencies; deps
# installs the production dependencies only; the runtime copies both results onto
# a clean base, so neither the compiler nor the npm cache ship.

# The base: Node.js 24 LTS, the version in .node-version, package.json "engines" and
# CI (.ci/run runs the tests on the same release through scripts/node-lts.sh); a test
# (test/image/dockerfile.test.ts) keeps the four in step. Pinned by digest, so a
# rebuild never picks up a different image under the same tag. A locally built base
# can be passed instead: --build-arg NODE_IMAGE=<image>.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:2fe369e969550cde8e867afc3fe370b260140cab4a23d467074295b42163d553

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so the layer is reused while only sources change.
# --ignore-scripts: the root "prepare" script runs the build, which needs the
# sources copied below; no production dependency has an install script.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="forestall" \
      org.opencontainers.image.description="Kubernetes operator that turns threat intelligence into enforced policy" \
      org.opencontainers.image.source="https://github.com/forestall/forestall" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# Git delivery (delivery/git/repository.ts) runs the git binary through simple-git to
# clone, commit and push; the slim base has none, so it comes from Debian (with the CA
# bundle git needs for https remotes). npm and corepack are not needed at run time;
# removing them shrinks the image and its vulnerability surface.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
# Data the runtime reads from the package (packageRoot() in feeds/package-root.ts):
# the STIX parser validates objects against the official schemas, and the guardrails
# read the never-block warninglists on every sync. test/image/dockerfile.test.ts
# derives this list from the code and fails when a path is missing here.
COPY --chown=0:0 feeds/stix-schemas ./feeds/stix-schemas
COPY --chown=0:0 feeds/warninglists ./feeds/warninglists
COPY --chown=0:0 package.json ./
# MITRE's ATT&CK licence travels with the trimmed ATT&CK data that dist/ carries
# (report/attack/data/attack-18.1.json): its terms ask for it in every copy.
COPY --chown=0:0 report/attack/data/LICENSE.txt ./report/attack/data/LICENSE.txt
# Files stay owned by root and read-only to the process; the chart also mounts the
# root filesystem read-only. 65532 is the conventional "nonroot" UID, matching the
# chart's runAsUser.
USER 65532:65532
# Ports: 8080 metrics, 8081 health probes (see the chart).
EXPOSE 8080 8081
# Node.js runs as PID 1: the controller handles SIGTERM itself (stop the queues,
# release the Lease) within the pod's termination grace period.
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
