#!/bin/sh
# The shared library's ABI is steroids.h: every function declared there is
# exported, nothing from st-int.h is, and every export has the st_ prefix.
# TAP; skipped where there is no nm or no ELF libsteroids.so.
so="${top_builddir:-.}/lib/.libs/libsteroids.so"
hdr="${top_srcdir:-.}/lib"
if ! command -v nm >/dev/null 2>&1 || [ ! -f "$so" ]; then
	echo "1..0 # SKIP no nm, or no $so (not an ELF build)"
	exit 0
fi
exports=$(mktemp) || exit 1
trap 'rm -f "$exports"' EXIT
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ { print $3 }' |
    sed 's/@.*//' | sort -u >"$exports"
decls() {
	grep -oE '\bst_[a-z0-9_]+\(' "$1" | tr -d '(' | sort -u
}
# check N DESCRIPTION LIST: ok when LIST is empty, else name what is in it
check() {
	if [ -z "$3" ]; then
		echo "ok $1 $2"
	else
		printf '# %s\n' $3
		echo "not ok $1 $2"
	fi
}

echo "1..3"
check 1 "every export starts with st_" "$(grep -v '^st_' "$exports")"
check 2 "every function of steroids.h is exported" \
    "$(decls "$hdr/steroids.h" | comm -23 - "$exports")"
check 3 "nothing of st-int.h is exported" \
    "$(decls "$hdr/st-int.h" | comm -12 - "$exports")"
