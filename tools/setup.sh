#!/usr/bin/env bash
# Installs every dependency of Device Manager from Debian's repositories (and,
# for web assets, the npm registry). Idempotent: a second run only checks.
#
#   tools/setup.sh            # everything needed to build, run and test
#
# V8 comes from Debian's libnode (Node 18 / V8 10.2). Installing libnode-dev
# with apt conflicts with the machine's Node.js 20, so the two .debs are
# downloaded and unpacked into a project-local prefix (.deps/libnode).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  g++ cmake ninja-build ccache pkg-config git curl ca-certificates
  libboost1.81-dev
  libnats-dev nats-server
  libpq-dev postgresql postgresql-contrib
  libmosquitto-dev mosquitto mosquitto-clients
  influxdb python3
  rapidjson-dev libssl-dev catch2 libjemalloc-dev
  libseccomp-dev  # the function runner's worker sandbox (system call filter)
  liblz4-dev      # the batches on the durable streams (libs/contract/batch.hpp)
  procps iproute2 chromium wrk
  libbrotli1 libc-ares2 libicu72 libnghttp2-14 libuv1 zlib1g
  clang-14 libclang-rt-14-dev  # tools/fuzz: clang++-14 with libFuzzer
  clang-format clang-tidy       # tools/lint (ctest -L lint): the tree's format and checks
)

# kubectl renders the Kubernetes manifests (tests/deploy). A kubectl already on PATH (any
# vendor's) is kept; otherwise Debian's.
if ! command -v kubectl >/dev/null; then APT_PACKAGES+=(kubernetes-client); fi

# npm fetches the web assets for /docs. Machines that already have a Node.js (and npm) of
# their own keep it: Debian's npm would pull Debian's nodejs over it.
if ! command -v npm >/dev/null; then APT_PACKAGES+=(npm); fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Keep Debian from starting system services for what we install: the
  # project runs its own NATS, PostgreSQL and mosquitto under .data/.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_log="$(mktemp)"
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    exit 1
  fi
  rm -f "$apt_log"
fi

# V8 from libnode into a project-local prefix.
NODE_PREFIX="$ROOT/.deps/libnode"
if [ ! -f "$NODE_PREFIX/.complete" ]; then
  echo "setup: unpacking libnode (V8) into $NODE_PREFIX"
  tmp="$(mktemp -d)"
  # apt-get download needs package lists; a machine with every package already installed
  # may have none yet.
  ( cd "$tmp" && { apt-get download libnode108 libnode-dev >/dev/null 2>&1 ||
                   { $SUDO apt-get update -qq && apt-get download libnode108 libnode-dev >/dev/null; }; } )
  rm -rf "$NODE_PREFIX"; mkdir -p "$NODE_PREFIX"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$NODE_PREFIX"; done
  rm -rf "$tmp"
  # libnode-dev ships libnode.so as a link to the versioned library.
  test -e "$NODE_PREFIX/usr/lib/x86_64-linux-gnu/libnode.so" || \
    ln -s libnode.so.108 "$NODE_PREFIX/usr/lib/x86_64-linux-gnu/libnode.so"
  touch "$NODE_PREFIX/.complete"
fi

# Web assets for /docs (Swagger UI), from the npm registry.
if command -v npm >/dev/null && [ ! -f "$ROOT/.deps/web/node_modules/swagger-ui-dist/swagger-ui-bundle.js" ]; then
  echo "setup: installing swagger-ui-dist"
  mkdir -p "$ROOT/.deps/web"
  ( cd "$ROOT/.deps/web" && cp "$ROOT/tools/web-package.json" package.json && \
    npm install --no-audit --no-fund --silent >/dev/null ) || echo "setup: warning: npm assets not installed"
fi

# The operator's console (web/): npm packages pinned by web/package-lock.json into
# web/node_modules (installed again only when the lock file changes), then the bundle the gateway
# serves at / built into web/dist (again only when the sources change; esbuild takes a second).
WEB="$ROOT/web"
if command -v npm >/dev/null; then
  if ! cmp -s "$WEB/package-lock.json" "$WEB/node_modules/.dm-package-lock.json"; then
    echo "setup: installing the console's packages"
    ( cd "$WEB" && npm ci --no-audit --no-fund --silent >/dev/null &&
      cp package-lock.json node_modules/.dm-package-lock.json ) || echo "setup: warning: console packages not installed"
  fi
  sources="$(cd "$WEB" && find src build.mjs package-lock.json -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)"
  if [ -f "$WEB/node_modules/.dm-package-lock.json" ] && [ "$sources" != "$(cat "$WEB/dist/.sources" 2>/dev/null)" ]; then
    echo "setup: building the console"
    ( cd "$WEB" && node build.mjs >/dev/null && echo "$sources" >dist/.sources ) || echo "setup: warning: console not built"
  fi
fi

# Debian's kubectl 1.20 (kustomize v2.0.3) next to a newer kubectl on PATH, unpacked like
# libnode: tests/deploy renders the manifests with both, so they keep working with either.
KUBECTL_PREFIX="$ROOT/.deps/kubectl"
if [ ! -f "$KUBECTL_PREFIX/.complete" ] && ! dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null | grep -q "install ok installed"; then
  echo "setup: unpacking Debian's kubectl into $KUBECTL_PREFIX"
  tmp="$(mktemp -d)"
  if ( cd "$tmp" && { apt-get download kubernetes-client >/dev/null 2>&1 ||
                      { $SUDO apt-get update -qq && apt-get download kubernetes-client >/dev/null; }; } ); then
    rm -rf "$KUBECTL_PREFIX"; mkdir -p "$KUBECTL_PREFIX"
    dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$KUBECTL_PREFIX"
    touch "$KUBECTL_PREFIX/.complete"
  else
    echo "setup: warning: Debian's kubectl not unpacked"
  fi
  rm -rf "$tmp"
fi

# Schema validators for the Kubernetes manifests (tests/deploy), pinned by the committed
# package-lock.json; reinstalled only when the lock file changes.
K8S_VALIDATE="$ROOT/.deps/k8s-validate"
if command -v npm >/dev/null && ! cmp -s "$ROOT/tests/deploy/package-lock.json" "$K8S_VALIDATE/package-lock.json"; then
  echo "setup: installing the Kubernetes schema validators"
  rm -rf "$K8S_VALIDATE"; mkdir -p "$K8S_VALIDATE"
  cp "$ROOT/tests/deploy/package.json" "$ROOT/tests/deploy/package-lock.json" "$K8S_VALIDATE/"
  ( cd "$K8S_VALIDATE" && npm ci --no-audit --no-fund --silent >/dev/null ) ||
    { rm -f "$K8S_VALIDATE/package-lock.json"; echo "setup: warning: Kubernetes validators not installed"; }
fi
echo "setup: ok"
