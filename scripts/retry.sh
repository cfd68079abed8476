#!/usr/bin/env bash
# retry.sh COMMAND ARGS...: run a command up to 3 times, 10 s then 20 s apart.
# For the set-up's downloads (pip, apt-get): a registry page cut off mid-way (seen in
# CI: pip's "JSONDecodeError: Unterminated string" on torch's index page) or a dropped
# mirror connection fails one run at once, and pip's own --retries covers only refused
# connections; a second run a few seconds later gets the whole page.
set -uo pipefail
for try in 1 2 3; do
    "$@" && exit 0
    status=$?
    [ "$try" -lt 3 ] || break
    echo "$1 failed (exit $status, try $try of 3); trying again in $((try * 10)) s" >&2
    sleep $((try * 10))
done
echo "$1 failed 3 times (exit $status): see its message above" >&2
exit "$status"
