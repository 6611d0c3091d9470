"""Real-browser tests (Playwright on Debian's Chromium)."""
