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
# Three tries: a mirror that drops a connection or serves a half-synced index fails one
# apt-get run, and a new update a few seconds later usually gets a whole one.
for try in 1 2 3; do
    if $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${need[@]}" >/dev/null; then
        exit 0
    fi
    [ "$try" -lt 3 ] || break
    echo "apt-get failed (try $try of 3); trying again in $((try * 10)) s" >&2
    sleep $((try * 10))
done
echo "could not install ${need[*]} with apt-get: see its message above" >&2
exit 1
