#!/usr/bin/env bash
# Browser end-to-end tests: headless Debian Chromium (/usr/bin/chromium, or $CHROMIUM_BIN) against
# a real salon-server (target/debug/salon-server, or $SALON_SERVER_BIN) that the tests start.
# Build the server first: cargo build -p salon-server -p salon-bench (fifty.test.js adds ~45
# salon-bench participants to a room with three browsers; interop.test.js needs salon-cli).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec npm test
