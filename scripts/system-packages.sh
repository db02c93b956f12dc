#!/usr/bin/env bash
# The Debian packages the test suite needs beyond Node.js and Go: ffmpeg, the real RTP application
# streamed through the mesh by the client tools' integration test; and for the real-node e2e cluster
# (test/e2e/harness/real), a Docker engine to build the image (docker.io, which brings containerd, ctr
# and runc for the nodes), the CNI plugins, and debootstrap for the base images. Installs them when
# missing and apt-get can (root); otherwise says what to install and fails, so no test is left out.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v openssl >/dev/null || missing+=(openssl)
command -v tc >/dev/null && command -v ip >/dev/null || missing+=(iproute2) # test hosts: network namespaces, veth, tc
command -v iptables >/dev/null || missing+=(iptables) # the partition test cuts a test host off with iptables DROP
command -v dockerd >/dev/null && command -v containerd >/dev/null && command -v ctr >/dev/null || missing+=(docker.io)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
command -v debootstrap >/dev/null || missing+=(debootstrap)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages the tests need: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "the tests need these packages: ${missing[*]}; install them (Debian: sudo apt-get install ${missing[*]}) and rerun" >&2
  exit 1
fi
