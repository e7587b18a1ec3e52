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

# Debian packages: Chinese fonts for report charts, Word reports and console screenshots
# (fonts-noto-cjk), and the headless browser the console's tests drive (chromium, with
# chromium-driver for Selenium users; Playwright is pointed at /usr/bin/chromium and never
# downloads a browser of its own).
apt_install() {  # apt_install PACKAGE... ; installs as root, tries `apt-get update` once on failure
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; }
}
can_apt() { command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; }

if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  if can_apt; then
    echo "installing fonts-noto-cjk (Chinese fonts for report charts) ..."
    apt_install fonts-noto-cjk ||
      echo "jingyu: could not install fonts-noto-cjk; report charts will be labelled in English" >&2
  else
    echo "jingyu: no Chinese font found: install fonts-noto-cjk (as root) so that report charts" \
         "are labelled in Chinese" >&2
  fi
fi

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if can_apt; then
    echo "installing chromium chromium-driver (headless browser for the console's tests) ..."
    apt_install chromium chromium-driver ||
      echo "jingyu: could not install chromium chromium-driver with apt-get; the console's" \
           "browser tests need /usr/bin/chromium (fix: apt-get install chromium chromium-driver)" >&2
  else
    echo "jingyu: /usr/bin/chromium not found: the console's browser tests need it" \
         "(fix, as root: apt-get install chromium chromium-driver fonts-noto-cjk)" >&2
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
