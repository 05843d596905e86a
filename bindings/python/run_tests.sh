#!/bin/sh
# run_tests.sh - the Python binding's tests, as CTest runs them
# (bindings/CMakeLists.txt, test python_bindings):
#
#   sh bindings/python/run_tests.sh SOURCE_DIR [pytest arguments]
#
# Runs `python3 -m pytest -q bindings/python/tests` in SOURCE_DIR with the
# first interpreter that has pytest: $XSHM_PYTHON if set, else python3 on
# PATH, else /usr/bin/python3 (Debian's python3-pytest installs there). The
# environment names the library and the programs (tests/conftest.py):
# XSHM_LIBRARY, XSHM_EXAMPLE_SERVER, XSHM_EXAMPLE_CLIENT, XSHM_ECHO_PEER.
# Exit status: pytest's, or 77 (skipped) with the reason when there is no
# python3 or no pytest.
src=${1:?usage: run_tests.sh SOURCE_DIR [pytest arguments]}
shift

candidates=${XSHM_PYTHON:-"python3 /usr/bin/python3"}
python=
found=
for py in $candidates; do
    command -v "$py" >/dev/null 2>&1 || continue
    found="$found $py"
    if "$py" -c 'import pytest' >/dev/null 2>&1; then
        python=$py
        break
    fi
done
if [ -z "$found" ]; then
    echo "SKIPPED: python3 not found (tried: $candidates)"
    exit 77
fi
if [ -z "$python" ]; then
    echo "SKIPPED: pytest is not installed for$found (Debian: apt-get install python3-pytest; scripts/bootstrap.sh installs it)"
    exit 77
fi

cd "$src" || exit 1
echo "python_bindings: $("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])'), pytest $("$python" -c 'import pytest; print(pytest.__version__)')"
# No .pytest_cache nor __pycache__ in the source folder.
PYTHONDONTWRITEBYTECODE=1 exec "$python" -m pytest -q -rs -p no:cacheprovider \
    bindings/python/tests "$@"
