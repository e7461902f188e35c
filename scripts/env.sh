# Environment shared by the scripts (sourced, not run).
# librosa's numba JIT costs ~30 s on first use: keep its cache inside the repo's cache dir.
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}"
# Ray must bind loopback only and never phone home.
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
export RAY_USAGE_STATS_ENABLED=0
# Ray would otherwise rebuild this uv project into a fresh venv for every job and worker.
export RAY_ENABLE_UV_RUN_RUNTIME_ENV=0
# matplotlib renders to files only.
export MPLBACKEND=Agg
