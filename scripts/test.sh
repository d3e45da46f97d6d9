#!/usr/bin/env bash
# The test command of README.md: starts NATS and PostgreSQL if they are not answering, then
# runs every test of the workspace against them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
exec cargo test --workspace --locked "$@"
