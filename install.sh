#!/usr/bin/env bash
# One-shot bootstrap for mlops-tui.
#
#   ./install.sh          install for use: a virtualenv under the XDG data dir and
#                         `mlops-tui` linked into ~/.local/bin
#   ./install.sh --dev    install for development: ./.venv (editable, with test extras)
#                         plus the real servers the tests start (etcd, a kube-apiserver
#                         built from Debian's source package, tmux, Prometheus, Triton,
#                         a kubelet node with containerd and local images)
#
# Safe to run again: every step checks what is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dev=0
servers=1
python_bin="${PYTHON:-}"

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    echo "Options:"
    echo "  --dev            editable install in ./.venv with test extras and test servers"
    echo "  --no-servers     with --dev: skip the apt packages and the control-plane build"
    echo "  --python PATH    the Python interpreter to use (3.11 or newer)"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dev) dev=1 ;;
        --no-servers) servers=0 ;;
        --python) python_bin="${2:?--python needs a path}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

step() { printf '\n==> %s\n' "$*"; }

find_python() {
    local candidate
    for candidate in "$python_bin" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

step "checking Python >= 3.11"
if ! python="$(find_python)"; then
    echo "error: mlops-tui needs Python 3.11 or newer; none found on PATH (try --python PATH)" >&2
    exit 2
fi
echo "using $python ($("$python" --version 2>&1))"

if [ "$dev" = 1 ]; then
    venv="$here/.venv"
else
    venv="${XDG_DATA_HOME:-$HOME/.local/share}/mlops-tui/venv"
fi

step "creating the virtualenv at $venv"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || {
        echo "error: could not create a virtualenv; on Debian/Ubuntu: apt-get install python3-venv" >&2
        exit 2
    }
else
    echo "already there"
fi

step "installing mlops-tui"
"$venv/bin/python" -m pip install --quiet --upgrade pip
if [ "$dev" = 1 ]; then
    "$venv/bin/python" -m pip install --quiet -e "${here}[dev]"
else
    "$venv/bin/python" -m pip install --quiet "$here"
fi

if [ "$dev" = 1 ] && [ "$servers" = 1 ]; then
    step "installing the real servers the tests start"
    if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
    packages=(etcd-server tmux shellcheck prometheus prometheus-node-exporter)
    missing=()
    for pkg in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
    else
        echo "apt packages already installed"
    fi
    step "building the Kubernetes control plane for the tests (cached; ~10 min the first time)"
    bash "$here/tests/cluster/build-control-plane.sh"
    step "installing Triton Inference Server for the metrics tests (cached; ~1 min the first time)"
    bash "$here/tests/servers/setup-triton.sh"
    step "building the real test node: kubelet, containerd, images (cached; ~2 min the first time)"
    bash "$here/tests/cluster/build-node.sh"
fi

if [ "$dev" = 0 ]; then
    step "putting mlops-tui on the PATH"
    mkdir -p "$HOME/.local/bin"
    ln -sf "$venv/bin/mlops-tui" "$HOME/.local/bin/mlops-tui"
    echo "linked $HOME/.local/bin/mlops-tui"
    case ":$PATH:" in
        *":$HOME/.local/bin:"*) ;;
        *) echo "note: add ~/.local/bin to your PATH, e.g. export PATH=\"\$HOME/.local/bin:\$PATH\"" ;;
    esac
fi

step "done"
if [ "$dev" = 1 ]; then
    cat <<EOT
Next steps:
  .venv/bin/mlops-tui --demo        # every screen, no cluster needed
  .venv/bin/python -m pytest -q     # the test suite (real apiserver, Prometheus, Triton)
EOT
else
    cat <<EOT
Next steps:
  mlops-tui --demo                  # every screen, no cluster needed
  mlops-tui                         # your kubeconfig's current context
  mlops-tui --help                  # flags, kubectl-style
EOT
fi
