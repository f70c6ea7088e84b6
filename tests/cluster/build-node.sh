#!/usr/bin/env bash
# Build what a real test node needs (tests/cluster/node.py): a kubelet v1.20.2 from the
# same source tree and Go recipe as the control plane, the container runtime from
# Debian, and three OCI image archives built locally (no registry is reachable here):
#
#   localhost/mlops-tui-test/pause:1.0          a 20-line static C pause program
#   localhost/mlops-tui-test/busybox:1.0        Debian's busybox-static with its applets
#   localhost/mlops-tui-test/tritonserver:2.51  the Triton venv of tests/servers/setup-triton.sh
#                                               with Python 3.11, bash and its shared libs
#
# Output (keyed by version): $OUT/kubelet and $OUT/images/{pause,busybox,triton}.tar.
# Idempotent: a second run exits at once. The Triton image is skipped (with a note) while
# the Triton venv is missing; a later run builds it.
#
# Environment:
#   MLOPS_TUI_NODE_DIR     output dir (default: $XDG_CACHE_HOME/mlops-tui/node-v1.20.2)
#   MLOPS_TUI_TRITON_VENV  the Triton venv (default: $XDG_CACHE_HOME/mlops-tui/triton-venv)
#   KUBEBUILDER_ASSETS     a dir that already holds a kubelet v1.20.2 (used as is)
#
# Timings here (2 cores): kubelet 45-100 s with a warm Go cache (~6 min cold), pause and
# busybox < 1 s each, Triton 15-45 s (140 MB archive).
set -euo pipefail

K8S_VERSION=1.20.2
TRITON_VERSION=2.51
REGISTRY=localhost/mlops-tui-test
# bump when what goes into an image changes: the archives are rebuilt
IMAGE_RECIPE=3
PACKAGES=(containerd runc containernetworking-plugins umoci skopeo busybox-static gcc libc6-dev)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/mlops-tui
OUT=${MLOPS_TUI_NODE_DIR:-$CACHE_ROOT/node-v$K8S_VERSION}
IMAGES=$OUT/images
TRITON_VENV=${MLOPS_TUI_TRITON_VENV:-$CACHE_ROOT/triton-venv}
PYVER=3.11
# what the Triton image takes from the venv's site-packages (besides pytriton/tritonserver)
TRITON_SITE_ITEMS=(numpy numpy.libs 'numpy-*.dist-info' nvidia_pytriton.libs)
# parts of the standard library a server never imports
STDLIB_LEFT_OUT=('config-*' ensurepip idlelib tkinter turtledemo lib2to3 pydoc_data test)

log() { printf '%s [build-node] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'build-node: error: %s\n' "$*" >&2; exit 1; }

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
    done
}

kubelet_present() {
    [[ -x $OUT/kubelet ]] || [[ -n ${KUBEBUILDER_ASSETS:-} && -x $KUBEBUILDER_ASSETS/kubelet ]]
}

image_done() {  # role
    [[ -f $IMAGES/$1.tar && "$(cat "$IMAGES/$1.recipe" 2>/dev/null)" == "$(recipe_of "$1")" ]]
}

triton_site() { echo "$TRITON_VENV/lib/python$PYVER/site-packages"; }

recipe_of() {  # what an archive was built from; a change rebuilds it
    local role=$1
    if [[ $role == triton ]]; then
        echo "$IMAGE_RECIPE" "$(find "$(triton_site)" -maxdepth 1 \( -name 'nvidia_pytriton-*.dist-info' \
            -o -name 'numpy-*.dist-info' \) -printf '%f\n' 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')"
    else
        echo "$IMAGE_RECIPE"
    fi
}

all_done() {
    [[ -z $(missing_packages) ]] && kubelet_present && image_done pause && image_done busybox &&
        { image_done triton || [[ ! -x $(triton_site)/pytriton/tritonserver/bin/tritonserver ]]; }
}

if all_done; then
    log "node already built in $OUT"
    image_done triton || log "note: no Triton image (no venv at $TRITON_VENV: run tests/servers/setup-triton.sh, then this again)"
    exit 0
fi

mkdir -p "$OUT" "$IMAGES"
exec 8>"$OUT/.build.lock"
flock 8
start_ts=$(date +%s)

# ---------------------------------------------------------------------------- packages
missing=$(missing_packages)
if [[ -n $missing ]]; then
    # shellcheck disable=SC2086 # one word per package
    log "apt-get install" $missing
    # shellcheck disable=SC2086 # one word per package
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; then
        apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
fi

# ---------------------------------------------------------------------------- kubelet
if ! kubelet_present; then
    t0=$(date +%s)
    log "building kubelet v$K8S_VERSION (same tree, Go and cache as the control plane)"
    MLOPS_TUI_K8S_BIN=$OUT bash "$here/build-control-plane.sh" kubelet
    log "kubelet built in $(( $(date +%s) - t0 ))s"
fi

# ---------------------------------------------------------------------------- images
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlops-tui-build-node.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# pack ROLE ROOTFS NAME UMOCI-CONFIG-ARGS...: ROOTFS as one layer, into $IMAGES/ROLE.tar
pack() {
    local role=$1 rootfs=$2 name=$3 t0
    shift 3
    t0=$(date +%s)
    local layout=$WORK/$role-layout
    rm -rf "$layout"
    umoci init --layout "$layout"
    umoci new --image "$layout:build"
    umoci insert --image "$layout:build" "$rootfs" /
    umoci config --image "$layout:build" --architecture amd64 --os linux "$@"
    rm -f "$IMAGES/$role.tar.tmp"
    skopeo --insecure-policy copy --quiet "oci:$layout:build" "oci-archive:$IMAGES/$role.tar.tmp:$name"
    mv -f "$IMAGES/$role.tar.tmp" "$IMAGES/$role.tar"
    echo "$name" >"$IMAGES/$role.ref"
    recipe_of "$role" >"$IMAGES/$role.recipe"
    rm -rf "$layout" "$rootfs"
    log "image $name: $(du -h "$IMAGES/$role.tar" | cut -f1) in $(( $(date +%s) - t0 ))s"
}

base_files() {  # ROOTFS: /etc/passwd, /etc/group, /tmp
    local r=$1
    mkdir -p "$r/etc" "$r/tmp"
    chmod 1777 "$r/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
}

if ! image_done pause; then
    r=$WORK/pause-root
    mkdir -p "$r"
    cat >"$WORK/pause.c" <<'EOF'
/* The pod sandbox's process: sleep until told to stop, reap orphans meanwhile. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = quit;
    sigaction(SIGINT, &sa, 0);
    sigaction(SIGTERM, &sa, 0);
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, 0);
    for (;;) pause();
}
EOF
    gcc -static -Os -s -o "$r/pause" "$WORK/pause.c"
    pack pause "$r" "$REGISTRY/pause:1.0" --config.entrypoint /pause --config.user 65535:65535
fi

if ! image_done busybox; then
    r=$WORK/busybox-root
    mkdir -p "$r/bin"
    base_files "$r"
    cp /bin/busybox "$r/bin/busybox"
    for applet in $("$r/bin/busybox" --list); do
        [[ -e $r/bin/$applet ]] || ln -s busybox "$r/bin/$applet"
    done
    pack busybox "$r" "$REGISTRY/busybox:1.0" \
        --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --config.cmd sh
fi

# ---------------------------------------------------------------------------- triton
SITE=$(triton_site)
if ! image_done triton && [[ -x $SITE/pytriton/tritonserver/bin/tritonserver ]]; then
    r=$WORK/triton-root
    venv_in=/opt/triton-venv
    site_in=$venv_in/lib/python$PYVER/site-packages
    dist_in=$site_in/pytriton/tritonserver
    libs_in=$site_in/nvidia_pytriton.libs
    mkdir -p "$r/usr/bin" "$r/usr/lib" "$r/usr/lib64" "$r/opt" "$r/models"
    base_files "$r"
    for d in bin lib lib64 sbin; do  # the host's merged /usr layout
        if [[ -L /$d ]]; then ln -s "$(readlink "/$d")" "$r/$d"; fi
    done
    log "triton image: copying the server, numpy, Python $PYVER and bash"
    # Only what the server and its Python backend use (fewer files: a faster unpack in
    # every test session): the venv's interpreter links, the server with its libs, numpy.
    mkdir -p "$r$venv_in/bin" "$r$site_in/pytriton"
    grep -v '^command = ' "$TRITON_VENV/pyvenv.cfg" >"$r$venv_in/pyvenv.cfg"
    cp -a "$TRITON_VENV"/bin/python* "$r$venv_in/bin/"
    for item in "${TRITON_SITE_ITEMS[@]}"; do
        for path in "$SITE"/$item; do
            [[ -e $path ]] || die "no $item in $SITE"
            cp -a "$path" "$r$site_in/"
        done
    done
    cp -a "$SITE/pytriton/tritonserver" "$r$site_in/pytriton/"
    rm -rf "$r$dist_in/python_backend_stubs"
    # the Python backend stub for this Python, where Triton's default backend dir finds it
    cp "$SITE/pytriton/tritonserver/python_backend_stubs/$PYVER/triton_python_backend_stub" \
        "$r$dist_in/backends/python/"
    ln -s "$dist_in" "$r/opt/tritonserver"   # default --backend-directory, --cache-directory
    cp -a "/usr/lib/python$PYVER" "$r/usr/lib/"
    for item in "${STDLIB_LEFT_OUT[@]}"; do
        # shellcheck disable=SC2086 # $item is a glob on purpose
        rm -rf "$r/usr/lib/python$PYVER/"$item
    done
    cp -L "/usr/bin/python$PYVER" "$r/usr/bin/python$PYVER"
    ln -s "python$PYVER" "$r/usr/bin/python3"
    cp -L /usr/bin/bash "$r/usr/bin/bash"
    ln -s bash "$r/usr/bin/sh"
    cp /bin/busybox "$r/usr/bin/busybox"   # for exec in tests (nc, ls, cat): `busybox nc`
    # the entrypoint works as the NGC image's does (it execs "$@"): a pod's args may start
    # with the command (args: [tritonserver, --model-repository=...], as KServe and the
    # deploy feature write them) or hold only tritonserver's options
    cat >"$r/usr/bin/triton-entrypoint" <<'ENTRY'
#!/usr/bin/bash
case "${1:-}" in
    "" | -*) exec tritonserver "$@" ;;
    *) exec "$@" ;;
esac
ENTRY
    chmod 755 "$r/usr/bin/triton-entrypoint"

    # shared libraries of every ELF file in the image, copied from the host
    log "triton image: collecting shared libraries (ldd)"
    find "$r" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
        while IFS= read -r -d '' elf; do  # scripts and data: ldd says no and is ignored
            LD_LIBRARY_PATH=$SITE/nvidia_pytriton.libs ldd "$elf" 2>/dev/null || true
        done | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | sort -u >"$WORK/libs"
    nlibs=0
    while read -r lib; do
        case $lib in "$TRITON_VENV"/*) continue ;; esac
        dest=$r$(realpath "$(dirname "$lib")")/$(basename "$lib")
        if [[ ! -e $dest ]]; then
            mkdir -p "$(dirname "$dest")"
            cp -L "$lib" "$dest"
            nlibs=$((nlibs + 1))
        fi
    done <"$WORK/libs"
    log "triton image: $nlibs host libraries"

    # catch a missing library now rather than in a pod
    tenv=(env -i "PATH=$venv_in/bin:/opt/tritonserver/bin:/usr/bin:/bin"
          "LD_LIBRARY_PATH=$libs_in" "$(command -v chroot)")
    for elf in "$dist_in/bin/tritonserver" "$dist_in/backends/python/triton_python_backend_stub" \
               "$dist_in/backends/python/libtriton_python.so" /usr/bin/bash; do
        listing=$("${tenv[@]}" "$r" /lib64/ld-linux-x86-64.so.2 --list "$elf") ||
            die "the loader in the Triton image cannot list $elf"
        if grep 'not found' <<<"$listing" >&2; then
            die "the Triton image lacks libraries of $elf"
        fi
    done
    "${tenv[@]}" "$r" python3 -c 'import numpy, sys; assert sys.prefix == "/opt/triton-venv"' ||
        die "python3 in the Triton image does not run the venv with numpy"
    help=$("${tenv[@]}" "$r" tritonserver --help 2>&1 || true)
    grep -q -- '--model-repository' <<<"$help" || {
        tail -n 20 <<<"$help" >&2
        die "tritonserver --help does not run in the Triton image"
    }

    pack triton "$r" "$REGISTRY/tritonserver:$TRITON_VERSION" \
        --config.env "PATH=$venv_in/bin:/opt/tritonserver/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --config.env "LD_LIBRARY_PATH=$libs_in" \
        --config.entrypoint /usr/bin/triton-entrypoint \
        --config.cmd=--model-repository=/models \
        --config.workingdir /
elif ! image_done triton; then
    log "note: no Triton image (no venv at $TRITON_VENV: run tests/servers/setup-triton.sh, then this again)"
fi

log "done in $(( $(date +%s) - start_ts ))s: $OUT"
