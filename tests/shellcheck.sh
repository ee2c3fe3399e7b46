#!/bin/sh
# The suite's own scripts through shellcheck, as one TAP case: a test line
# that shellcheck cannot parse is one nobody has checked either.
if ! command -v shellcheck >/dev/null 2>&1; then
	echo "1..0 # SKIP shellcheck is not installed"
	exit 0
fi
cd "${top_srcdir:-.}" || exit 1
echo "1..1"
if out=$(shellcheck -s bash -S warning tests/cli/*.bats tests/lib.bash \
    tests/*.sh tests/cli/fake-runner tests/cli/fake-crontab \
    contrib/demo.sh 2>&1); then
	echo "ok 1 shellcheck -S warning over tests/ and contrib/demo.sh"
else
	printf '%s\n' "$out" | sed 's/^/# /'
	echo "not ok 1 shellcheck -S warning over tests/ and contrib/demo.sh"
fi
