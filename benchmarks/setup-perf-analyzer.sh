#!/usr/bin/env bash
# Installs perf_analyzer, Triton's reference load generator, for benchmarks/bench_loadtest.py:
#
#   - a venv of its own at ${MLOPS_TUI_PERF_ANALYZER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-tui/perf-analyzer-venv}
#     holding tritonclient==2.51.0 (its wheel ships the perf_analyzer binary; newer wheels
#     need glibc 2.38 and this Debian has 2.36) and nvidia-cuda-runtime-cu12 (the binary
#     links libcudart.so.12 even when no GPU is used);
#   - Debian's libb64-0d (the binary links libb64.so.0d).
#
# The binary runs with the CUDA runtime's lib dir on LD_LIBRARY_PATH; the last line printed
# is that command line prefix, e.g.
#   LD_LIBRARY_PATH=/…/nvidia/cuda_runtime/lib /…/bin/perf_analyzer
#
# Idempotent: exits at once when the binary is there and starts. ~30 s otherwise.
set -euo pipefail

venv="${MLOPS_TUI_PERF_ANALYZER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-tui/perf-analyzer-venv}"
base_python="${MLOPS_TUI_PERF_ANALYZER_PYTHON:-/usr/bin/python3.11}"

say() { printf '[setup-perf-analyzer] %s\n' "$*"; }

if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi

cuda_libdir() {
    "$venv/bin/python" - <<'PY'
import pathlib, sysconfig
print(pathlib.Path(sysconfig.get_paths()["purelib"]) / "nvidia" / "cuda_runtime" / "lib")
PY
}

works() {
    [ -x "$venv/bin/perf_analyzer" ] || return 1
    LD_LIBRARY_PATH="$(cuda_libdir)" "$venv/bin/perf_analyzer" --version >/dev/null 2>&1
}

if ! dpkg -s libb64-0d >/dev/null 2>&1; then
    say "installing Debian's libb64-0d"
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends libb64-0d
fi

if [ -x "$venv/bin/python" ] && works; then
    say "perf_analyzer already there and working"
else
    if [ -e "$venv" ]; then
        # only ever remove what is a venv: the path may come from the environment
        if [ -f "$venv/pyvenv.cfg" ] || [ -z "$(ls -A "$venv")" ]; then
            rm -rf "$venv"
        else
            say "error: $venv exists and is not a venv; set MLOPS_TUI_PERF_ANALYZER_VENV" >&2
            exit 2
        fi
    fi
    say "creating $venv with tritonclient==2.51.0 and nvidia-cuda-runtime-cu12"
    mkdir -p "$(dirname "$venv")"
    "$base_python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "tritonclient==2.51.0" "nvidia-cuda-runtime-cu12"
    if ! works; then
        say "error: $venv/bin/perf_analyzer does not start:" >&2
        LD_LIBRARY_PATH="$(cuda_libdir)" "$venv/bin/perf_analyzer" --version >&2 || true
        exit 1
    fi
fi
echo "LD_LIBRARY_PATH=$(cuda_libdir) $venv/bin/perf_analyzer"
