#!/usr/bin/env bash
# Set everything up, then run one full monitoring cycle offline on the bundled sample feeds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/jingyu demo "$@"
