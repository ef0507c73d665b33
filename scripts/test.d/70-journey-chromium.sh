#!/usr/bin/env bash
# End-to-end suite: a bank customer's journey (tests/browser/journey.mjs) in headless Chromium
# with the built extension, the real host registered in the profile, pcscd + vpcd + the virtual
# token and the demo bank. Screenshots: build/screenshots/chromium/.
exec bash "$(dirname "$0")/../journey-suite.sh" chromium 70-journey-chromium
