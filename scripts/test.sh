#!/usr/bin/env bash
# Install everything the tests need, then run every check and test (Python and browser).
#   - Chromium from Debian's packages (the browser tests drive it; nothing downloads one)
#   - .venv with the package and its test extras (builds the labextension with jlpm
#     from the committed yarn.lock)
#   - the labextension's eslint/prettier/stylelint checks and jest unit tests
#   - on a full run (no pytest arguments), .venv-documents: the same with
#     jupyter-server-documents instead of jupyter-collaboration (the two cannot be installed
#     together), for the restore browser tests with that real-time collaboration backend
# Works as root on a fresh machine; elsewhere it uses sudo for the one apt step.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q ".[test]"

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== import layers"
.venv/bin/lint-imports
echo "== labextension: lint and unit tests"
# The pip build ran jlpm in labextension/ (node_modules is there); `jlpm install` makes
# sure the dev tools are too, and is quick when they are. jlpm comes with jupyterlab.
(
  cd labextension
  export PATH="$PWD/../.venv/bin:$PATH"
  jlpm install
  jlpm lint:check
  jlpm test
)
echo "== jupyter_server's own tests, for tests/tap/test_jupyter_server_suites.py"
# The sdist of the installed jupyter_server (its tests are not in the wheel), from PyPI.
jsv="$(.venv/bin/python -c 'import jupyter_server; print(jupyter_server.__version__)')"
export SIDECAR_JUPYTER_SERVER_SDIST="$PWD/.venv/sdist/jupyter_server-$jsv.tar.gz"
if [ ! -f "$SIDECAR_JUPYTER_SERVER_SDIST" ]; then
  .venv/bin/python -m pip download -q --no-deps --no-binary :all: "jupyter_server==$jsv" -d .venv/sdist
fi
echo "== pytest"
.venv/bin/pytest "$@"

if [ "$#" = 0 ]; then
  echo "== restore browser tests with jupyter-server-documents instead of jupyter-collaboration"
  # Editable: the labextension built above is up to date, so jlpm does not build it again.
  # Only what these tests need (the test extra would bring jupyter-collaboration along).
  python3 -m venv .venv-documents
  .venv-documents/bin/python -m pip install -q --upgrade pip
  .venv-documents/bin/python -m pip install -q -e . "pytest>=8" "pytest-jupyter[server]>=0.10" \
    hypothesis "playwright>=1.50" "jupyter-server-documents==0.3.3" "ipywidgets>=8" tqdm
  # Only the collaborative mode runs there (conftest skips the plain one).
  .venv-documents/bin/pytest tests/ui/test_restore.py tests/ui/test_restore_widgets.py \
    tests/ui/test_restore_input.py -p no:cacheprovider
fi
