#!/usr/bin/env bash
# Create .venv with Python 3.11 and install jingyu with its test tools (skipped when up to date).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && \
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "jingyu needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.jingyu-installed
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "installing jingyu and its dependencies into .venv ..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  echo "$wanted" > "$stamp"
fi

# Chinese fonts for report charts and for Word reports rendered on this machine (Debian/Ubuntu
# package fonts-noto-cjk); then matplotlib's font list is rebuilt so that charts find them.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing fonts-noto-cjk (Chinese fonts for report charts) ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null 2>&1; } ||
      echo "jingyu: could not install fonts-noto-cjk; report charts will be labelled in English" >&2
  else
    echo "jingyu: no Chinese font found: install fonts-noto-cjk (as root) so that report charts" \
         "are labelled in Chinese" >&2
  fi
fi
.venv/bin/python - <<'PY'
import pathlib

import matplotlib
from matplotlib import font_manager

if not any("CJK" in f.name for f in font_manager.fontManager.ttflist):
    # The cached list predates the font: drop it, the next import rebuilds it.
    for cached in pathlib.Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        cached.unlink()
PY
