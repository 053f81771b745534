#!/usr/bin/env bash
# The test command: set up (idempotent), start the test services, run the whole suite.
# Pass pytest arguments through, e.g. `bash scripts/test.sh -k dynamics`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=scripts/services.sh
source scripts/services.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest -m "not gpu" -p no:cacheprovider "$@"
