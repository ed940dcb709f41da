#!/usr/bin/env bash
# Install Debian's chromium (/usr/bin/chromium) for the browser tests.
#
# Usage: .ci/chromium.sh   (needs root; does nothing when chromium is present)
# The tests drive it through Playwright's Python API with executable_path.
# They never run `playwright install`, which downloads browsers.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium.sh: $(/usr/bin/chromium --version 2>/dev/null | head -n 1) already installed" >&2
  exit 0
fi
echo "chromium.sh: installing chromium with apt-get" >&2
apt-get update >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2
/usr/bin/chromium --version >&2
