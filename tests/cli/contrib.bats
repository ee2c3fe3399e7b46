#!/usr/bin/env bats
# contrib.bats -- the man pages, the bash and zsh completions and the service
# files of contrib/: they parse, they name the installed binaries by absolute
# path, make install puts them in place, and they cannot drift from the CLI.

bats_require_minimum_version 1.5.0
load "${top_srcdir:-$BATS_TEST_DIRNAME/../..}/tests/lib"

: "${top_builddir:=$PWD}"
BASH_COMPLETION="$top_srcdir/contrib/completions/steroids.bash"
ZSH_COMPLETION="$top_srcdir/contrib/completions/_steroids"

# The commands of SPEC 9, whether or not this build has them yet: the
# completion and steroids(1) must cover every one.
SPEC_COMMANDS='init
projects list
projects add
projects remove
projects enable
projects disable
projects prune
tasks add
tasks list
tasks update
loop
runners list
runners stop
runners wakeup
runners cron
agent start
agent stop
agent status
config get
config set'

# "command[ subcommand]<TAB>options" for SPEC 9's options.
SPEC_OPTIONS='init	--name --no-register
projects list	--all
projects add	--name
projects remove	--yes
projects prune	--dry-run
tasks add	--section --description --project
tasks list	--status --project
tasks update	--status --project
loop	--project --once --dry-run
runners stop	--project --id --all
runners wakeup	--quiet --dry-run
config get	--global
config set	--global'

GLOBAL_OPTIONS='--help --json --quiet --verbose --no-color'

setup() {
	setup_home
}

teardown() {
	teardown_home
}

# bash_complete WORD...: run the bash completion with COMP_WORDS set to the
# words (the last one is the word being completed, "" for a new one) and
# print COMPREPLY, one per line.  A fresh bash, so nothing leaks in.
bash_complete() {
	local fn=_steroids

	[ "$1" = steroids-agent ] && fn=_steroids_agent
	bash --norc --noprofile -c '
		. "$1" || exit 1
		fn=$2
		shift 2
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		"$fn"
		if [ "${#COMPREPLY[@]}" -gt 0 ]; then
			printf "%s\n" "${COMPREPLY[@]}"
		fi' _ "$BASH_COMPLETION" "$fn" "$@"
}

# Sorted, one per line, of the words given.
words() {
	# shellcheck disable=SC2048 # split the words on purpose
	printf '%s\n' $* | sort -u
}

# The commands "steroids --help" lists, as "command[ subcommand]" lines.
help_commands() {
	"$STEROIDS" --help | awk '
		/^commands:/ { on = 1; next }
		on && /^  [a-z]/ {
			if ($2 ~ /^[a-z][a-z-]*$/) print $1 " " $2; else print $1
		}'
}

# The options "steroids --help" lists for one "command[ subcommand]".
help_options() {
	"$STEROIDS" --help | awk -v want="$1" '
		/^commands:/ { on = 1; next }
		!on || !/^  [a-z]/ { next }
		{
			name = $1
			if ($2 ~ /^[a-z][a-z-]*$/) name = $1 " " $2
			if (name != want) next
			for (i = 2; i <= NF; i++)
				if (match($i, /--[a-z][a-z-]*/))
					print substr($i, RSTART, RLENGTH)
		}'
}

# Every command: SPEC 9's and whatever --help lists besides.
all_commands() {
	{ printf '%s\n' "$SPEC_COMMANDS"; help_commands; } | sort -u
}

# steroids(1)'s SYNOPSIS, one line per form: the words of every .Cm and
# .Fl macro after one .Nm, e.g. "Cm agent Cm start | stop | status".
man_synopsis() {
	awk '
		/^\.Sh SYNOPSIS/ { on = 1; next }
		/^\.Sh/ { on = 0 }
		!on { next }
		/^\.Nm/ { if (line != "") print line; line = ""; next }
		{ sub(/^\./, ""); line = line " " $0 }
		END { if (line != "") print line }' "$top_srcdir/man/steroids.1"
}

# The SYNOPSIS form of "command[ subcommand]": the first whose command
# words (the .Cm words before any argument) are the command and include
# the subcommand.
man_form() {
	man_synopsis | awk -v cmd="${1%% *}" -v sc="${1#* }" '
		{
			n = split($0, w, " ")
			if (w[1] != "Cm" || w[2] != cmd) next
			if (sc == cmd) { print; exit }
			for (i = 3; i <= n && w[i] != "Ar" && w[i] != "Op" &&
			    w[i] != "Fl"; i++)
				if (w[i] == sc) { print; exit }
		}'
}

lint_man() {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	run mandoc -Tlint "$top_srcdir/man/$1"
	# Manuals of other packages missing here are not this page's fault.
	local rest
	rest=$(printf '%s\n' "$output" | grep -v \
	    -e 'referenced manual not found' -e 'outdated mandoc.db' || true)
	if [ -n "$rest" ]; then
		printf '%s\n' "$rest"
		return 1
	fi
}

@test "steroids(1) passes mandoc -Tlint" {
	lint_man steroids.1
}

@test "steroids-agent(8) passes mandoc -Tlint" {
	lint_man steroids-agent.8
}

@test "steroids-agent(8) documents every flag of -h, the pidfile, SIGHUP and exit 6" {
	local m="$top_srcdir/man/steroids-agent.8" flags f
	run "$STEROIDS_AGENT" -h
	[ "$status" -eq 0 ]
	flags=$(printf '%s\n' "$output" | sed -n 's/^usage: steroids-agent \[-\([a-zA-Z]*\)\]$/\1/p')
	[ -n "$flags" ]
	grep -q "^\.Op Fl $flags\$" "$m"
	for f in $(printf '%s\n' "$flags" | fold -w1); do
		grep -q "^\.It Fl $f\$" "$m"
		bash -c ". '$BASH_COMPLETION'; COMP_WORDS=(steroids-agent -); COMP_CWORD=1; _steroids_agent; printf '%s\n' \"\${COMPREPLY[@]}\"" | grep -qx -- "-$f"
		grep -q -- "'\*\?-$f\[" "$top_srcdir/contrib/completions/_steroids"
	done
	grep -q 'agent\.pid' "$m"
	grep -q '^\.It Dv SIGHUP$' "$m"
	grep -q '^\.It 6$' "$m"
}

@test "bash completion: bash -n" {
	bash -n "$BASH_COMPLETION"
}

@test "bash completion: a command from its prefix" {
	run bash_complete steroids pro
	[ "$status" -eq 0 ]
	[ "$output" = projects ]
	run bash_complete steroids r
	[ "$output" = runners ]
}

@test "bash completion: exactly the commands of SPEC 9" {
	run bash_complete steroids ''
	[ "$status" -eq 0 ]
	[ "$(words $output)" = "$(all_commands | cut -d' ' -f1 | sort -u)" ]
}

@test "bash completion: subcommands of projects, runners, agent, tasks, config" {
	local group
	run bash_complete steroids projects ''
	[ "$(words $output)" = "$(words list add remove enable disable prune)" ]
	run bash_complete steroids runners ''
	[ "$(words $output)" = "$(words list stop logs wakeup cron)" ]
	# Same for every group, against SPEC 9 and --help.
	for group in projects tasks runners agent config; do
		run bash_complete steroids "$group" ''
		[ "$(words $output)" = "$(all_commands |
		    awk -v g="$group" '$1 == g && NF == 2 { print $2 }' |
		    sort -u)" ] || { echo "group $group: $output"; return 1; }
	done
	# Global options before the command do not count as the command.
	run bash_complete steroids -j --no-color agent ''
	[ "$(words $output)" = "$(words start stop status)" ]
}

@test "bash completion: options, statuses, config keys, cron actions" {
	run bash_complete steroids projects remove --
	[[ $'\n'$output$'\n' == *$'\n--yes\n'* ]]
	[[ $'\n'$output$'\n' == *$'\n--json\n'* ]]
	run bash_complete steroids tasks list --status p
	[ "$output" = pending ]
	# "--status=p", split at "=" as bash does.
	run bash_complete steroids tasks list --status = p
	[ "$output" = pending ]
	run bash_complete steroids config get agent.b
	[ "$(words $output)" = "$(words agent.backoff_initial agent.backoff_max)" ]
	run bash_complete steroids runners cron ''
	[ "$(words $output)" = "$(words install uninstall status)" ]
	# No second positional for cron.
	run bash_complete steroids runners cron install ''
	[ -z "$output" ]
	run bash_complete steroids-agent -
	[ "$(words $output)" = "$(words -d -P -v)" ]
}

@test "bash completion: directories, one entry even with a space" {
	mkdir -p "$TEST_ROOT/pick/my app" "$TEST_ROOT/pick/other"
	touch "$TEST_ROOT/pick/my file"
	run bash_complete steroids projects add "$TEST_ROOT/pick/my"
	[ "$output" = "$TEST_ROOT/pick/my app" ]
	run bash_complete steroids loop --project "$TEST_ROOT/pick/o"
	[ "$output" = "$TEST_ROOT/pick/other" ]
}

@test "every command and option of --help and SPEC 9 is in the bash completion" {
	local cmd opt opts
	while IFS= read -r cmd; do
		if [ "$cmd" != "${cmd#* }" ]; then
			run bash_complete steroids ${cmd% *} "${cmd#* }"
		else
			run bash_complete steroids "$cmd"
		fi
		[[ $'\n'$output$'\n' == *$'\n'"${cmd#* }"$'\n'* ]] ||
		    { echo "completion lacks '$cmd'"; return 1; }
		opts=$(help_options "$cmd"
		    printf '%s\n' "$SPEC_OPTIONS" |
		    awk -F'\t' -v c="$cmd" '$1 == c { print $2 }')
		run bash_complete steroids $cmd --
		for opt in $opts; do
			[[ $'\n'$output$'\n' == *$'\n'"$opt"$'\n'* ]] ||
			    { echo "completion lacks '$cmd $opt'"; return 1; }
		done
	done < <(all_commands)
}

@test "every command and option of --help and SPEC 9 is in steroids(1)" {
	local cmd opt form opts
	while IFS= read -r cmd; do
		form=$(man_form "$cmd")
		[ -n "$form" ] || { echo "steroids(1) lacks '$cmd'"; return 1; }
		opts=$(help_options "$cmd"
		    printf '%s\n' "$SPEC_OPTIONS" |
		    awk -F'\t' -v c="$cmd" '$1 == c { print $2 }')
		for opt in $opts; do
			case " $GLOBAL_OPTIONS " in
			*" $opt "*) continue ;;
			esac
			# mdoc writes --name as "Fl -name".
			[[ " $form " == *" Fl ${opt#-} "* ]] ||
			    { echo "steroids(1) lacks '$cmd $opt': $form"; return 1; }
		done
	done < <(all_commands)
	# The global options, in GLOBAL OPTIONS.
	for opt in $GLOBAL_OPTIONS --version; do
		grep -Eq "^\.It .*Fl ${opt#-}( |\$)" \
		    "$top_srcdir/man/steroids.1" ||
		    { echo "steroids(1) lacks $opt"; return 1; }
	done
}

@test "zsh completion: zsh -n" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	zsh -n "$ZSH_COMPLETION"
}

@test "zsh completion names every command of SPEC 9 and --help" {
	local cmd
	while IFS= read -r cmd; do
		if [ "$cmd" != "${cmd#* }" ]; then
			# In the group's list: "'sub:description'".
			grep -q "^[[:space:]]*'${cmd#* }:" "$ZSH_COMPLETION" ||
			    { echo "zsh lacks '$cmd'"; return 1; }
		else
			grep -q "^[[:space:]]*'$cmd:" "$ZSH_COMPLETION" ||
			    { echo "zsh lacks '$cmd'"; return 1; }
		fi
	done < <(all_commands)
}

@test "systemd user unit: absolute ExecStart, Restart=on-failure, runners survive" {
	local u="$top_builddir/contrib/systemd/steroids-agent.service"
	[ -f "$u" ]
	run ! grep -n '@[a-zA-Z_]*@' "$u"
	grep -Eq '^ExecStart=/[^ ]*/steroids-agent$' "$u"
	grep -qx 'Restart=on-failure' "$u"
	grep -qx 'KillMode=process' "$u"
	grep -qx 'WantedBy=default.target' "$u"
}

@test "systemd user unit passes systemd-analyze verify" {
	command -v systemd-analyze >/dev/null ||
	    skip "systemd-analyze is not installed"
	# verify wants ExecStart to exist: point it at the built agent.
	mkdir -p "$TEST_ROOT/unit"
	sed "s|@bindir[@]|$top_builddir|g" \
	    "$top_srcdir/contrib/systemd/steroids-agent.service.in" \
	    >"$TEST_ROOT/unit/steroids-agent.service"
	run systemd-analyze verify --man=no \
	    "$TEST_ROOT/unit/steroids-agent.service"
	if [[ $output == *"Failed to initialize manager"* ]]; then
		skip "systemd-analyze cannot run here: $output"
	fi
	echo "$output"
	[ "$status" -eq 0 ]
	# Unknown keys are only warned about: any output is a failure.
	[ -z "$output" ]
}

@test "launchd plist: well-formed, KeepAlive, absolute program path" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	local p="$top_builddir/contrib/launchd/org.steroids.agent.plist"
	[ -f "$p" ]
	run ! grep -n '@[a-zA-Z_]*@' "$p"
	python3 - "$p" <<-'EOF'
	import sys
	import xml.etree.ElementTree as ET
	d = ET.parse(sys.argv[1]).getroot().find("dict")
	kv = list(d)
	keys = [e.text for e in kv[0::2]]
	vals = dict(zip(keys, kv[1::2]))
	assert vals["Label"].text == "org.steroids.agent", keys
	assert "KeepAlive" in vals, keys
	assert vals["RunAtLoad"].tag == "true"
	prog = vals["ProgramArguments"][0].text
	assert prog.startswith("/") and prog.endswith("/steroids-agent"), prog
	# Foreground: launchd must not see the agent fork.
	assert "-d" not in [e.text for e in vals["ProgramArguments"]]
	EOF
	if command -v plutil >/dev/null; then
		plutil -lint "$p"
	fi
}

@test "FreeBSD rc.d script: sh -n, executable, absolute command, -d" {
	local r="$top_builddir/contrib/rc.d/steroids_agent"
	[ -x "$r" ]
	sh -n "$r"
	run ! grep -n '@[a-zA-Z_]*@' "$r"
	grep -Eq '^command="/[^"]*/steroids-agent"$' "$r"
	grep -qx 'command_args="-d"' "$r"
	grep -q '^pidfile=.*/agent.pid"$' "$r"
	grep -qx 'sig_reload="HUP"' "$r"
}

@test "crontab example: the wakeup every minute by absolute path" {
	local c="$top_builddir/contrib/crontab.example"
	[ -f "$c" ]
	run ! grep -n '@[a-zA-Z_]*@' "$c"
	run grep -v -e '^#' -e '^$' "$c"
	[ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ]
	[[ $output =~ ^\*\ \*\ \*\ \*\ \*\ /[^\ ]*/steroids\ runners\ wakeup\ --quiet$ ]]
}

# The directory make install uses for one of configure's --with-*dir
# settings ("no": not installed).
installdir() {
	sed -n "s/^$1 = //p" "$top_builddir/Makefile"
}

@test "make install DESTDIR= installs the man pages, completions and unit; uninstall removes them" {
	[ -f "$top_builddir/Makefile" ] || skip "no build directory"
	command -v "${MAKE:-make}" >/dev/null || skip "make is not installed"
	local dest="$TEST_ROOT/dest" f
	# A make of its own: not the jobserver or command-line variables of
	# the make check that runs this test.
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    "${MAKE:-make}" -C "$top_builddir" install DESTDIR="$dest"
	echo "$output"
	[ "$status" -eq 0 ]
	local want=(
		'*/man1/steroids.1'
		'*/man8/steroids-agent.8'
	)
	[ "$(installdir bashcompletiondir)" != no ] &&
	    want+=('*/completions/steroids')
	[ "$(installdir zshcompletiondir)" != no ] &&
	    want+=('*/_steroids')
	[ "$(installdir systemduserunitdir)" != no ] &&
	    want+=('*/systemd/user/steroids-agent.service')
	for f in "${want[@]}"; do
		[ "$(find "$dest" -type f -path "$f" | wc -l)" -eq 1 ] ||
		    { echo "not installed: $f"; return 1; }
	done
	if [ "$(installdir bashcompletiondir)" != no ]; then
		f=$(find "$dest" -type f -path '*/completions/steroids')
		cmp "$f" "$BASH_COMPLETION"
		# Loads in a shell that has it installed.
		bash --norc -c ". '$f' && complete -p steroids"
	fi
	f=$(find "$dest" -type f -path '*/systemd/user/steroids-agent.service')
	if [ -n "$f" ]; then
		run ! grep -q '@bindir@' "$f"
	fi

	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    "${MAKE:-make}" -C "$top_builddir" uninstall DESTDIR="$dest"
	[ "$status" -eq 0 ]
	run find "$dest" -type f
	[ -z "$output" ]
}
