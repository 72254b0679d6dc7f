#!/usr/bin/env sh
# Builds (incrementally) and runs product-service alone; it reads product-service/.env when present.
set -e
cd "$(dirname "$0")/.."
npx tsc -b product-service
cd product-service
exec node dist/src/main.js
