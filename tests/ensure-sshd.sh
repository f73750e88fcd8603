#!/bin/sh
# The SFTP publishing tests run a real OpenSSH server on 127.0.0.1: Debian's openssh-server.
# Installs it when it is missing (as root, or through sudo); does nothing when it is there.
set -eu
[ -x /usr/sbin/sshd ] && exit 0
if [ "$(id -u)" = 0 ]; then as_root=""; else as_root="sudo"; fi
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
