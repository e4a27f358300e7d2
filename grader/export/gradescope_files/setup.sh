#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image; the bundle is unpacked in
# /autograder/source. It installs the grader's wheel (and Python 3.11 first when the image has no Python
# 3.11 or newer) into /autograder/source/venv, which run_autograder uses.
# GRADER_VENV_OPTIONS, GRADER_PIP and GRADER_PIP_OPTIONS (how to install into the venv) exist for the
# grader's own tests, which install offline with the dependencies they already have.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

recent_enough() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }

PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && recent_enough "$(command -v "$candidate")"; then
        PYTHON="$(command -v "$candidate")"
        break
    fi
done
if [ -z "$PYTHON" ]; then
    echo "setup.sh: this image has no Python 3.11 or newer; installing python3.11"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    if ! apt-get install -y python3.11 python3.11-venv; then
        # An Ubuntu release without its own python3.11: the deadsnakes archive has it.
        apt-get install -y software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update
        apt-get install -y python3.11 python3.11-venv
    fi
    PYTHON="$(command -v python3.11)"
fi
echo "setup.sh: installing the grader with $("$PYTHON" --version)"
# shellcheck disable=SC2086  # the options are words
"$PYTHON" -m venv ${GRADER_VENV_OPTIONS:-} "$SOURCE/venv"
PIP="${GRADER_PIP:-$SOURCE/venv/bin/python -m pip}"
# shellcheck disable=SC2086
$PIP install ${GRADER_PIP_OPTIONS:-} "$SOURCE"/backprop_grader-*.whl
"$SOURCE/venv/bin/python" -c "import grader; print('setup.sh: grader', grader.__version__, 'installed')"
