#!/usr/bin/env bash
# pip install with retries: PYTHON -m pip install ARGS..., up to 3 tries.
# pip's own --retries covers refused connections only; a registry page cut off mid-way
# (seen in CI: "JSONDecodeError: Unterminated string" on torch's index page) fails the
# whole install at once, and a second try a few seconds later gets the whole page.
set -uo pipefail
python="$1"
shift
for try in 1 2 3; do
    "$python" -m pip install "$@" && exit 0
    status=$?
    [ "$try" -lt 3 ] || break
    echo "pip install failed (exit $status, try $try of 3); trying again in $((try * 10)) s" >&2
    sleep $((try * 10))
done
echo "pip install failed 3 times: see pip's message above" >&2
exit "$status"
