#!/usr/bin/env bash
# The Debian packages the test suite needs beyond Node.js and Go: ffmpeg, the real RTP application
# streamed through the mesh by the client tools' integration test. Installs them when missing and
# apt-get can (root); otherwise says what to install and fails, so no test is silently left out.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v openssl >/dev/null || missing+=(openssl)
command -v tc >/dev/null && command -v ip >/dev/null || missing+=(iproute2) # test hosts: network namespaces, veth, tc
command -v iptables >/dev/null || missing+=(iptables) # the partition test cuts a test host off with iptables DROP
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages the tests need: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "the tests need these packages: ${missing[*]}; install them (Debian: sudo apt-get install ${missing[*]}) and rerun" >&2
  exit 1
fi
