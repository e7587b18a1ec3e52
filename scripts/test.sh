#!/usr/bin/env bash
# Set everything up, then run the whole test suite (needs PostgreSQL at 127.0.0.1:5432 in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
