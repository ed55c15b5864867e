#!/usr/bin/env bash
# Installs the Debian 12 packages Spotline needs, and only those that are missing.
# Checks first with dpkg-query; calls apt-get only when something is missing; sudo when not root.
set -euo pipefail

packages=(
  g++ cmake ninja-build make pkg-config
  libzmq3-dev cppzmq-dev
  capnproto libcapnp-dev
  libspdlog-dev libfmt-dev
  prometheus-cpp-dev
  libboost-dev
  nlohmann-json3-dev libcli11-dev
  libssl-dev libsodium-dev
  libdcmtk-dev libtomlplusplus-dev
  python3-pydicom python3-yaml dicom3tools
  clang-14 libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format
  librdkafka-dev kcat
  maven openjdk-17-jre-headless
  curl procps
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
