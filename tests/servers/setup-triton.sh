#!/usr/bin/env bash
# Installs the real servers behind the Prometheus-backend tests (tests/servers/):
#
#   - a dedicated venv for Triton Inference Server 2.51 (CPU), from the `nvidia-pytriton`
#     0.7 wheel (it ships the bare `tritonserver` binary and the Python backend), with
#     numpy<2, at ${MLOPS_TUI_TRITON_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-tui/triton-venv};
#   - Debian's `prometheus` package (prometheus + promtool) when they are missing.
#
# The venv is built from Debian's /usr/bin/python3.11 (override: $MLOPS_TUI_TRITON_PYTHON),
# not a pyenv one: the Python backend stub links libpython3.11.so.1.0 and the loader finds
# Debian's; with another 3.11 build models fail to load
# ("'_thread.RLock' object has no attribute '_recursion_count'").
#
# Idempotent: exits at once when the venv is there and works. ~40 s and ~370 MB otherwise.
set -euo pipefail

venv="${MLOPS_TUI_TRITON_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-tui/triton-venv}"
base_python="${MLOPS_TUI_TRITON_PYTHON:-/usr/bin/python3.11}"
pytriton_spec="nvidia-pytriton>=0.7,<0.8"
numpy_spec="numpy<2"

say() { printf '[setup-triton] %s\n' "$*"; }

if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi

# ---------------------------------------------------------------- prometheus + promtool
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    say "prometheus already installed: $(prometheus --version 2>&1 | head -n 1)"
else
    say "installing Debian's prometheus package (prometheus, promtool)"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus
    say "installed: $(prometheus --version 2>&1 | head -n 1)"
fi

# ---------------------------------------------------------------- triton venv
site_packages() {
    "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

venv_works() {
    [ -x "$venv/bin/python" ] || return 1
    "$venv/bin/python" - <<'PY' >/dev/null 2>&1 || return 1
import sys
import numpy
import pytriton
assert sys.version_info[:2] == (3, 11), sys.version
assert int(numpy.__version__.split(".")[0]) < 2, numpy.__version__
PY
    local sp
    sp="$(site_packages)" || return 1
    local server="$sp/pytriton/tritonserver/bin/tritonserver"
    [ -x "$server" ] || return 1
    # the binary must start with the libraries the tests give it
    LD_LIBRARY_PATH="$sp/nvidia_pytriton.libs:$sp/pytriton/tritonserver/lib:$("$base_python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')" \
        "$server" --help >/dev/null 2>&1 || [ "$?" = 1 ] || return 1
}

if venv_works; then
    say "triton venv already there and working: $venv"
    exit 0
fi

# Debian's interpreter, its venv module and its shared library (the stub links it)
base_python_ok() {
    [ -x "$base_python" ] && "$base_python" - <<'PY' >/dev/null 2>&1
import ensurepip, os, sys, sysconfig, venv
lib = os.path.join(sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME"))
sys.exit(0 if sys.version_info[:2] == (3, 11) and os.path.exists(lib) else 1)
PY
}
if ! base_python_ok && [ "$base_python" = /usr/bin/python3.11 ]; then
    say "installing Debian's python3.11, python3.11-venv and libpython3.11"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        python3.11 python3.11-venv libpython3.11
fi
if ! base_python_ok; then
    say "error: $base_python is not a Python 3.11 with venv and libpython3.11.so.1.0" >&2
    exit 2
fi

if [ -e "$venv" ]; then
    # only ever remove what is a venv (or nothing yet): the path may come from the env
    if [ -f "$venv/pyvenv.cfg" ] || [ -z "$(ls -A "$venv")" ]; then
        say "removing the broken or incomplete venv at $venv"
        rm -rf "$venv"
    else
        say "error: $venv exists and is not a venv; set MLOPS_TUI_TRITON_VENV elsewhere" >&2
        exit 2
    fi
fi
say "creating the triton venv at $venv (from $base_python)"
mkdir -p "$(dirname "$venv")"
"$base_python" -m venv "$venv"
say "installing $pytriton_spec and $numpy_spec (~370 MB, ~40 s)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$pytriton_spec" "$numpy_spec"

if ! venv_works; then
    say "error: the triton venv at $venv does not work after the install" >&2
    exit 1
fi
say "triton ready: $(site_packages)/pytriton/tritonserver/bin/tritonserver"
