#!/usr/bin/env bash
# One-shot bootstrap for mlops-tui.
#
#   ./install.sh              install for use: a virtualenv under the XDG data dir and
#                             `mlops-tui` linked into ~/.local/bin
#   ./install.sh --k3s        the same, then a single-node k3s cluster on this machine, made
#                             by the tool's own `provision` script step (path k3s-local: the
#                             playbooks a cluster over SSH gets, on a local connection)
#   ./install.sh --dev        install for development: ./.venv (editable, with test extras)
#                             plus the real servers the tests start (etcd, sshd, a
#                             kube-apiserver built from Debian's source package, tmux,
#                             Prometheus, Triton, a kubelet node with containerd and images)
#   ./install.sh --uninstall  remove what install.sh installed and nothing else (it keeps a
#                             record in $XDG_STATE_HOME/mlops-tui/install.json)
#
# Safe to run again: every step checks what is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dev=0
servers=1
python_bin="${PYTHON:-}"
k3s=0
cluster=""
gpu=false
monitoring=false
airgap=""
uninstall=0
purge_cache=0
dry_run=0
# the sudo password goes to the one child that needs it (mlops-tui --script), not to pip
sudo_password="${MLOPS_TUI_SUDO_PASSWORD:-}"
unset MLOPS_TUI_SUDO_PASSWORD

usage() {
    sed -n '2,/^set -euo pipefail$/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOT'

Options:
  --k3s            after installing, provision a single-node k3s cluster on this machine
                   (needs systemd and root or sudo)
  --cluster NAME   with --k3s: the cluster's name and kubeconfig context (default: local)
  --gpu            with --k3s: NVIDIA container toolkit, device plugin and a GPU smoke test
  --monitoring     with --k3s: the monitoring stack (Prometheus, DCGM exporter, Grafana)
  --airgap DIR     with --k3s: install k3s from an air-gap bundle in DIR (no download)
  --uninstall      remove what install.sh recorded: its k3s clusters (destroyed first, their
                   kubeconfig contexts removed), the virtualenv, the ~/.local/bin link;
                   with --dev: ./.venv (and clusters made with it)
  --purge-cache    with --uninstall: also remove the build cache (~/.cache/mlops-tui)
  --dev            editable install in ./.venv with test extras and test servers
  --no-servers     with --dev: skip the apt packages and the control-plane build
  --python PATH    the Python interpreter to use (3.11 or newer)
  --dry-run        print the steps (and the script --k3s would run) without doing them
  -h, --help       this help
Environment:
  MLOPS_TUI_SUDO_PASSWORD   the sudo password --k3s / --uninstall need when not root and
                            sudo asks for one (otherwise asked once, never echoed or stored)
EOT
}

usage_error() {
    printf 'error: %s\n' "$1" >&2
    echo "run ./install.sh --help for the options" >&2
    exit 2
}

die() { printf 'error: %s\n' "$1" >&2; exit "${2:-1}"; }
step() { printf '\n==> %s\n' "$*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --dev) dev=1 ;;
        --no-servers) servers=0 ;;
        --python|--cluster|--airgap)
            if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi
            case "$1" in
                --python) python_bin="$2" ;;
                --cluster) cluster="$2" ;;
                --airgap) airgap="$2" ;;
            esac
            shift ;;
        --k3s) k3s=1 ;;
        --gpu) gpu=true ;;
        --monitoring) monitoring=true ;;
        --uninstall) uninstall=1 ;;
        --purge-cache) purge_cache=1 ;;
        --dry-run) dry_run=1 ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'error: unknown option %s\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [ "$k3s" = 0 ]; then
    [ -z "$cluster" ] || usage_error "--cluster needs --k3s"
    [ "$gpu" = false ] || usage_error "--gpu needs --k3s"
    [ "$monitoring" = false ] || usage_error "--monitoring needs --k3s"
    [ -z "$airgap" ] || usage_error "--airgap needs --k3s"
fi
[ "$uninstall" = 0 ] || [ "$k3s" = 0 ] || usage_error "--uninstall and --k3s do not go together"
[ "$purge_cache" = 0 ] || [ "$uninstall" = 1 ] || usage_error "--purge-cache needs --uninstall"
cluster="${cluster:-local}"
# a DNS-1123 label: the cluster's state dir and its kubeconfig context are named after it
[[ "$cluster" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] ||
    usage_error "--cluster '$cluster' is not a valid name: lower-case letters, digits and '-', at most 63"
if [ -n "$airgap" ]; then
    [ -d "$airgap" ] || usage_error "--airgap $airgap is not a directory"
    # absolute: the provision script lives in a temp dir and resolves paths against it
    airgap="$(cd "$airgap" && pwd)"
fi

state_dir="${XDG_STATE_HOME:-$HOME/.local/state}/mlops-tui"
record_file="$state_dir/install.json"
cache_dir="${MLOPS_TUI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-tui}"
link="$HOME/.local/bin/mlops-tui"
if [ "$dev" = 1 ]; then
    venv="$here/.venv"
else
    venv="${XDG_DATA_HOME:-$HOME/.local/share}/mlops-tui/venv"
fi
tool="$venv/bin/mlops-tui"
done_lines=()

# run CMD...: run it, or under --dry-run print it
run() {
    if [ "$dry_run" = 1 ]; then
        printf '  would run:'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

did() { done_lines+=("$*"); }


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

check_platform() {
    local os arch
    os="$(uname -s)"
    arch="$(uname -m)"
    [ "$os" = Linux ] || die "install.sh supports Linux only (this is $os)" 2
    case "$arch" in
        x86_64|amd64|aarch64|arm64) ;;
        *) die "install.sh supports x86_64 and aarch64 (this machine is $arch)" 2 ;;
    esac
    echo "Linux on $arch"
    # k3s runs as a systemd service; /run/systemd/system exists when systemd is PID 1
    if [ "$k3s" = 1 ] && [ ! -d /run/systemd/system ]; then
        local why="--k3s needs systemd (k3s runs as a systemd service) and this machine runs none (a container?): use a machine or VM booted with systemd, or make the cluster on one over SSH (a script step provision: {path: k3s-ssh, hosts: [...]})"
        [ "$dry_run" = 1 ] || die "$why" 2
        echo "warning: $why; a real run stops here"
    fi
}

# record OP ARGS...: the install record (install.json): what install.sh made, and where.
#   add WHAT WHERE      note an item of this venv (idempotent)
#   remove WHAT WHERE   forget it (the file goes when nothing is left)
#   list                this venv's items, as NUL-separated WHAT WHERE pairs
record() {
    [ "$dry_run" = 0 ] || [ "$1" = list ] || return 0
    "$python" - "$record_file" "$venv" "$@" <<'PY'
import json, os, sys, tempfile, time
path, venv, op, *args = sys.argv[1:]
try:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    items = data["items"]
except FileNotFoundError:
    data, items = {"schema_version": 1, "items": []}, []
except (ValueError, KeyError, TypeError):
    sys.exit(f"error: {path} is not an install record; fix or remove it")
data["items"] = items
mine = [i for i in items if i.get("venv") == venv]
if op == "list":
    for item in mine:
        sys.stdout.write(f"{item['what']}\0{item['where']}\0")
    sys.exit(0)
what, where = args
found = [i for i in mine if i.get("what") == what and i.get("where") == where]
if op == "add" and not found:
    items.append({"what": what, "where": where, "venv": venv,
                  "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
elif op == "remove":
    data["items"] = [i for i in items if i not in found]
if not data["items"]:
    if os.path.exists(path):
        os.unlink(path)
    sys.exit(0)
os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".install.json.")
with os.fdopen(fd, "w", encoding="utf-8") as f:
    json.dump(data, f, indent=2)
    f.write("\n")
    f.flush()
    os.fsync(f.fileno())
os.replace(tmp, path)
PY
}

# cluster_phase NAME: the phase the tool's state records for a cluster ("" when none)
cluster_phase() {
    local state="$state_dir/clusters/$1/state.json"
    [ -f "$state" ] || return 0
    "$python" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("phase") or "unknown")' \
        "$state" 2>/dev/null || echo unknown
}

cluster_context() {
    local state="$state_dir/clusters/$1/state.json"
    [ -f "$state" ] || return 0
    "$python" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("context") or "")' \
        "$state" 2>/dev/null || true
}

# ask_sudo_password: set sudo_password when k3s / its reset will need one and none was given
ask_sudo_password() {
    [ "$(id -u)" = 0 ] || command -v sudo >/dev/null ||
        die "k3s is installed as root: run install.sh as root, or install sudo" 2
    if [ "$(id -u)" = 0 ] || [ -n "$sudo_password" ] || sudo -n true 2>/dev/null; then
        return 0
    fi
    if [ "$dry_run" = 1 ]; then
        echo "  would ask for the sudo password (once; or set MLOPS_TUI_SUDO_PASSWORD)"
        return 0
    fi
    { [ -r /dev/tty ] && [ -w /dev/tty ]; } ||
        die "sudo asks for a password and there is no terminal to ask on: set MLOPS_TUI_SUDO_PASSWORD" 2
    read -rs -p "sudo password for $(id -un) (used for this run only, never stored): " \
        sudo_password </dev/tty
    echo >/dev/tty
}

# run_script FILE: the tool runs a script of steps (the password only in its environment)
run_script() {
    if [ "$dry_run" = 1 ]; then
        run "$tool" --script "$1"
    elif [ -n "$sudo_password" ]; then
        PATH="$venv/bin:$PATH" MLOPS_TUI_SUDO_PASSWORD="$sudo_password" "$tool" --script "$1"
    else
        PATH="$venv/bin:$PATH" "$tool" --script "$1"
    fi
}

# write_script FILE ACTION: the one-step script --k3s (provision) or --uninstall (destroy) runs
write_script() {
    "$python" - "$2" "$cluster" "$gpu" "$monitoring" "$airgap" >"$1" <<'PY'
import json, sys
action, cluster, gpu, monitoring, airgap = sys.argv[1:]
if action == "provision":
    title = "k3s on this machine"
    request = {"cluster": cluster, "path": "k3s-local", "gpu": gpu == "true",
               "monitoring": monitoring == "true", "airgap": airgap or None}
else:
    title = "destroy the k3s cluster install.sh made"
    request = {"cluster": cluster, "confirm": cluster}
print(f"# written by install.sh: the {action} step a script or the TUI runs")
print("steps:")
print(f"  - name: {title}")
print("    timeout: 1h  # a step's default is 10m; k3s and its images can take longer")
print(f"    {action}: {json.dumps(request)}")
PY
}

script_file=""
cleanup() { [ -z "$script_file" ] || rm -f "$script_file"; }
trap cleanup EXIT

# with_script ACTION: write the step to a temp file, show it, run it
with_script() {
    script_file="$(mktemp "${TMPDIR:-/tmp}/mlops-tui-install.XXXXXX.yaml")"
    write_script "$script_file" "$1"
    sed 's/^/  | /' "$script_file"
    ask_sudo_password
    local rc=0
    run_script "$script_file" || rc=$?
    rm -f "$script_file"
    script_file=""
    return "$rc"
}

install_tool() {
    step "creating the virtualenv at $venv"
    if [ -x "$venv/bin/python" ]; then
        echo "already there"
    else
        run "$python" -m venv "$venv" || {
            echo "error: could not create a virtualenv; on Debian/Ubuntu: apt-get install python3-venv" >&2
            exit 2
        }
        did "created the virtualenv $venv"
    fi
    record add venv "$venv"

    step "installing mlops-tui"
    run "$venv/bin/python" -m pip install --quiet --upgrade pip
    if [ "$dev" = 1 ]; then
        run "$venv/bin/python" -m pip install --quiet -e "${here}[dev]"
        # the build backend pyproject.toml names, so the install test builds offline
        run "$venv/bin/python" -m pip install --quiet "setuptools>=77,<81"
    else
        run "$venv/bin/python" -m pip install --quiet "$here"
    fi
    did "installed mlops-tui into $venv"
}

install_servers() {
    step "installing the real servers the tests start"
    if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
    # openssh-server and sudo: the SSH and provisioning tests run real sshd test hosts
    packages=(etcd-server tmux shellcheck prometheus prometheus-node-exporter openssh-server sudo)
    missing=()
    for pkg in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        run "${sudo[@]}" apt-get update -qq
        run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
        did "installed apt packages: ${missing[*]}"
    else
        echo "apt packages already installed"
    fi
    step "building the Kubernetes control plane for the tests (cached; ~10 min the first time)"
    run bash "$here/tests/cluster/build-control-plane.sh"
    step "installing Triton Inference Server for the metrics tests (cached; ~1 min the first time)"
    run bash "$here/tests/servers/setup-triton.sh"
    step "building the real test node: kubelet, containerd, images (cached; ~2 min the first time)"
    run bash "$here/tests/cluster/build-node.sh"
    step "building the kubeadm air-gap bundle for the provisioning tests (cached; ~1 min the first time)"
    run bash "$here/tests/cluster/build-kubeadm.sh"
}

link_tool() {
    step "putting mlops-tui on the PATH"
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$tool" ]; then
        echo "already linked: $link"
    elif [ -e "$link" ] || [ -L "$link" ]; then
        # never replace what another installer (pipx, a package) put there
        echo "warning: $link exists and is not ours: left as is; run $tool instead"
        return 0
    else
        run mkdir -p "$(dirname "$link")"
        run ln -s "$tool" "$link"
        did "linked $link -> $tool"
    fi
    record add link "$link"
    case ":$PATH:" in
        *":$HOME/.local/bin:"*) ;;
        *) echo "note: add ~/.local/bin to your PATH, e.g. export PATH=\"\$HOME/.local/bin:\$PATH\"" ;;
    esac
}

provision_k3s() {
    step "provisioning the single-node k3s cluster '$cluster' on this machine (mlops-tui --script)"
    # recorded first: a run that fails half-way still leaves something --uninstall must undo
    record add k3s-cluster "$cluster"
    local rc=0
    with_script provision || rc=$?
    if [ "$rc" != 0 ]; then
        echo "error: the k3s install stopped (exit $rc): fix what the failed step says, then run" >&2
        echo "the same ./install.sh command again: it resumes at the failed step" >&2
        exit "$rc"
    fi
    did "provisioned the k3s cluster '$cluster' (state: $state_dir/clusters/$cluster)"
}

uninstall_cluster() {
    cluster="$1"
    local phase
    phase="$(cluster_phase "$cluster")"
    step "the k3s cluster '$cluster'"
    if [ -z "$phase" ] || [ "$phase" = destroyed ]; then
        echo "nothing to destroy (its state: ${phase:-none})"
    else
        [ -x "$tool" ] || die "cannot destroy '$cluster': $tool is gone; reinstall (./install.sh), then run ./install.sh --uninstall again" 2
        echo "destroying it (phase: $phase); its kubeconfig context goes with it, the rest of ~/.kube/config stays"
        local rc=0
        with_script destroy || rc=$?
        [ "$rc" = 0 ] || die "destroying '$cluster' failed (exit $rc): nothing else was removed; fix what the step says and run ./install.sh --uninstall again" "$rc"
        did "destroyed the k3s cluster '$cluster'"
    fi
    record remove k3s-cluster "$cluster"
}

uninstall_link() {
    step "the link $1"
    if [ -L "$1" ] && [[ "$(readlink "$1")" == "$venv/"* ]]; then
        run rm -f "$1"
        did "removed the link $1"
    else
        echo "not a link into $venv any more: left as is"
    fi
    record remove link "$1"
}

uninstall_venv() {
    step "the virtualenv $1"
    if [ -f "$1/pyvenv.cfg" ]; then
        run rm -rf "$1"
        did "removed the virtualenv $1"
    elif [ -e "$1" ]; then
        echo "not a virtualenv (no pyvenv.cfg): left as is"
    else
        echo "already gone"
    fi
    record remove venv "$1"
}

uninstall() {
    local items=() i
    if [ -f "$record_file" ]; then
        record list >/dev/null || exit 2  # a damaged record: said why, nothing removed
        while IFS= read -r -d '' i; do items+=("$i"); done < <(record list)
    fi
    if [ "${#items[@]}" = 0 ]; then
        step "nothing to uninstall"
        echo "$record_file records nothing installed into $venv"
        return 0
    fi
    step "install.sh recorded (in $record_file):"
    for ((i = 0; i < ${#items[@]}; i += 2)); do
        echo "  ${items[i]}: ${items[i + 1]}"
    done
    # clusters first: destroying one needs the tool in the venv
    for ((i = 0; i < ${#items[@]}; i += 2)); do
        [ "${items[i]}" != k3s-cluster ] || uninstall_cluster "${items[i + 1]}"
    done
    for ((i = 0; i < ${#items[@]}; i += 2)); do
        [ "${items[i]}" != link ] || uninstall_link "${items[i + 1]}"
    done
    for ((i = 0; i < ${#items[@]}; i += 2)); do
        [ "${items[i]}" != venv ] || uninstall_venv "${items[i + 1]}"
    done
}

purge() {
    step "the build cache $cache_dir"
    if [ ! -d "$cache_dir" ]; then
        echo "none here"
    elif [ "$(basename "$cache_dir")" != mlops-tui ]; then
        echo "left as is: only a folder named mlops-tui is removed (MLOPS_TUI_CACHE points elsewhere)"
    else
        run rm -rf "$cache_dir"
        did "removed the build cache $cache_dir"
    fi
}

main() {
    [ "$dry_run" = 0 ] || echo "dry run: nothing below is done"
    step "checking the platform"
    check_platform
    step "checking Python >= 3.11"
    if ! python="$(find_python)"; then
        echo "error: mlops-tui needs Python 3.11 or newer; none found on PATH (try --python PATH)" >&2
        exit 2
    fi
    echo "using $python ($("$python" --version 2>&1))"

    if [ "$uninstall" = 1 ]; then
        uninstall
        [ "$purge_cache" = 0 ] || purge
    else
        install_tool
        [ "$dev" = 0 ] || [ "$servers" = 0 ] || install_servers
        [ "$dev" = 1 ] || link_tool
        [ "$k3s" = 0 ] || provision_k3s
    fi

    step "done"
    if [ "$dry_run" = 1 ]; then
        echo "(dry run: nothing was changed)"
    elif [ "${#done_lines[@]}" = 0 ]; then
        echo "nothing to change: everything was already there"
    else
        printf '  %s\n' "${done_lines[@]}"
    fi
    next_steps
}

next_steps() {
    local context command
    if [ "$uninstall" = 1 ]; then
        echo "Kept: ~/.kube/config (less the contexts destroyed clusters had), $state_dir (logs, cluster records)"
        [ "$purge_cache" = 1 ] || [ "$dev" = 0 ] || echo "Kept: the build cache $cache_dir (--purge-cache removes it)"
        return 0
    fi
    echo "Next steps:"
    if [ "$k3s" = 1 ]; then
        context="$(cluster_context "$cluster")"
        if [ "$dev" = 1 ]; then command=".venv/bin/mlops-tui"; else command="mlops-tui"; fi
        printf '  %-34s# the new k3s cluster\n' "$command --context ${context:-$cluster}"
    fi
    if [ "$dev" = 1 ]; then
        echo "  .venv/bin/mlops-tui --demo        # every screen, no cluster needed"
        echo "  .venv/bin/python -m pytest -q     # the test suite (real apiserver, Prometheus, Triton)"
    else
        echo "  mlops-tui --demo                  # every screen, no cluster needed"
        echo "  mlops-tui                         # your kubeconfig's current context"
        echo "  mlops-tui --help                  # flags, kubectl-style"
    fi
}

main
