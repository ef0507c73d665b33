# Prerequisites of the end-to-end journeys (tests/browser/journey.mjs, scripts/test.d/7x-journey-*):
# Firefox ESR for the second browser; puppeteer-core (drives Firefox over WebDriver BiDi; it
# downloads no browser) comes with tests/browser/package-lock.json. Chromium, the fonts for the
# Japanese screenshots and playwright-core come from prereqs.d/extension.sh.

APT_PACKAGES+=(firefox-esr)

prereq_journey_npm() {
  local dir="$KAGI_ROOT/tests/browser"
  [ -f "$dir/node_modules/puppeteer-core/package.json" ] && return 0
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}
