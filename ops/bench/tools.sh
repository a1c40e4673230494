#!/usr/bin/env bash
# A side virtualenv for the load tools (aiohttp for python-socketio's AsyncClient, psutil, py-spy), layered on
# the project's .venv so the app's own packages resolve too. The project's .venv is left untouched.
# Usage: bash ops/bench/tools.sh [DIR]   (default /work/atd-tools); prints the python to use.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${1:-${ATD_TOOLS:-/work/atd-tools}}"
BASE="$(readlink -f "$ROOT/.venv/bin/python")"
if [ ! -x "$DIR/bin/python" ]; then
  "$BASE" -m venv "$DIR"
fi
SITE="$("$DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
MAIN_SITE="$("$ROOT/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# After the side env's own packages: the project's (processing its .pth files too).
echo "import site; site.addsitedir('$MAIN_SITE')" > "$SITE/zz_atendimento_main.pth"
"$DIR/bin/pip" install -q 'aiohttp>=3.9,<4' 'psutil>=5.9' 'py-spy>=0.3.14' >&2
echo "$DIR/bin/python"
