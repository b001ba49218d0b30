#!/usr/bin/env bash
# Install Debian's Chromium for the web viewer's browser test (test/test_viewer.py), if missing.
# Needs root and apt-get (CI runs as root); elsewhere it says so and the test skips itself.
set -uo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "setup: no chromium and no root apt-get to install it: the browser test will skip"
  exit 0
fi
echo "setup: installing chromium (Debian package) for the browser test"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
  echo "setup: installing chromium failed: the browser test will skip"
fi
exit 0
