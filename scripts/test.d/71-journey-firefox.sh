#!/usr/bin/env bash
# End-to-end suite: the same journey in headless Firefox ESR (puppeteer-core over WebDriver BiDi,
# the extension as a temporary add-on, the host manifest in the test's own
# ~/.mozilla/native-messaging-hosts/). Screenshots: build/screenshots/firefox/.
exec bash "$(dirname "$0")/../journey-suite.sh" firefox 71-journey-firefox
