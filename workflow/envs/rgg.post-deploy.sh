#!/usr/bin/env bash
# Runs inside the new conda environment: install rgg from the checkout that holds the Snakefile.
set -euo pipefail
python -m pip install --no-deps "${RGG_SOURCE:?run through the rgg Snakefile, which sets RGG_SOURCE}"
