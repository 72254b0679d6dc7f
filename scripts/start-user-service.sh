#!/usr/bin/env sh
# Builds (incrementally) and runs user-service alone; it reads user-service/.env when present.
set -e
cd "$(dirname "$0")/.."
npx tsc -b user-service
cd user-service
exec node dist/src/main.js
