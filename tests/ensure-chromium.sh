#!/bin/sh
# The HTML report test renders report.html in a real headless browser: Debian's chromium.
# Installs it when it is missing (as root, or through sudo); does nothing when it is there.
set -eu
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ]; then as_root=""; else as_root="sudo"; fi
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
