#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (no browser download:
# Playwright drives /usr/bin/chromium through executable_path). On CI a missing browser is an error.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo ">> installing Chromium from Debian packages"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo -n"; fi
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || true
fi
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "${CI:-}" = "true" ]; then
  echo "ERROR: Debian's chromium could not be installed; CI requires the browser tests." >&2
  exit 1
fi
echo "WARNING: chromium is not available; the browser tests will be skipped." >&2
exit 0
