#!/usr/bin/env bash
# Install the OS packages the tests use, only those missing. Debian/Ubuntu (apt-get).
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v crontab >/dev/null || need+=(cron)
command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)
command -v tmux >/dev/null || need+=(tmux)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${need[*]}"
retry="$(dirname "$0")/retry.sh"  # a mirror's dropped connection is tried again
$sudo "$retry" apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive "$retry" apt-get install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null
