#!/bin/sh
# The servers and the browser the tests run for real on 127.0.0.1, from Debian's packages: chromium (the HTML
# pages rendered headless), openssh-server (sshd, for publishing over SFTP) and postgresql (Prefect's database
# in the production set-up). Installs those missing (as root, or through sudo); does nothing when all are there.
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then as_root=""; else as_root="sudo"; fi
$as_root apt-get update -qq
# shellcheck disable=SC2086 # one package name per word
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
