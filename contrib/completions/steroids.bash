# bash completion for steroids(1) and steroids-agent(8).
#
# Installed as $(datadir)/bash-completion/completions/steroids; to use it
# without bash-completion, source it from ~/.bashrc.  Self-contained: it
# does not need the bash-completion helpers.

_steroids_global_opts='-h --help -j --json -q --quiet -v --verbose --no-color'
_steroids_keys='runner.command runner.queue_command runner.task_timeout
	runner.max_failures runner.heartbeat_interval runner.stale_timeout
	agent.sweep_interval agent.backoff_initial agent.backoff_max
	agent.poll_interval agent.max_runners'
_steroids_statuses='pending in_progress review completed failed disputed
	skipped'

# The subcommands of a command word; nothing if it has none.
_steroids_subcommands()
{
	case $1 in
	projects)	echo 'list add remove enable disable prune' ;;
	tasks)		echo 'add list update' ;;
	runners)	echo 'list stop logs wakeup cron' ;;
	agent)		echo 'start stop status' ;;
	config)		echo 'get set' ;;
	esac
}

# The options of "command subcommand", besides the global ones.
_steroids_options()
{
	case $1 in
	init)		echo '--name --no-register' ;;
	'projects list')	echo '-a --all' ;;
	'projects add')	echo '--name' ;;
	'projects remove')	echo '-y --yes' ;;
	'projects prune')	echo '-n --dry-run' ;;
	'tasks add')	echo '--section --description --project' ;;
	'tasks list')	echo '--status --project' ;;
	'tasks update')	echo '--status --project' ;;
	loop)		echo '--project --once --dry-run' ;;
	'runners stop')	echo '--project --id --all --force' ;;
	'runners logs')	echo '--project --follow -n' ;;
	'runners wakeup')	echo '--dry-run' ;;
	'config get' | 'config set')	echo '-g --global -p --project' ;;
	esac
}

# Options whose value is the next word.
_steroids_takes_arg()
{
	case $1 in
	--name | --section | --description | --status | --project | -p | --id)
		return 0 ;;
	esac
	return 1
}

_steroids_dirs()
{
	local IFS=$'\n'	# directory names may hold spaces

	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -d -- "$1"))
}

_steroids()
{
	local cur prev cmd='' sub='' w i npos=0 IFS=$' \t\n'

	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	# "--status=pe": bash splits at "=" (COMP_WORDBREAKS).
	if [[ $cur == = ]]; then
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi

	# Find the command, its subcommand and how many positionals follow.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == -* ]]; then
			if _steroids_takes_arg "$w"; then
				((i++))
				# "--opt = value" when split at "=".
				[[ ${COMP_WORDS[i]} == = ]] && ((i++))
			fi
			continue
		fi
		if [[ -z $cmd ]]; then
			cmd=$w
		elif [[ -z $sub && -n $(_steroids_subcommands "$cmd") ]]; then
			sub=$w
		else
			((npos++))
		fi
	done

	case $prev in
	--status)
		COMPREPLY=($(compgen -W "$_steroids_statuses" -- "$cur"))
		return ;;
	--project | -p)
		_steroids_dirs "$cur"
		return ;;
	--name | --section | --description | --id)
		return ;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$_steroids_global_opts --version" \
			    -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'init projects tasks loop runners
			    agent config' -- "$cur"))
		fi
		return
	fi
	if [[ -z $sub && -n $(_steroids_subcommands "$cmd") ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$_steroids_global_opts" \
			    -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_steroids_subcommands "$cmd")" \
			    -- "$cur"))
		fi
		return
	fi

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_steroids_options \
		    "$cmd${sub:+ $sub}") $_steroids_global_opts" -- "$cur"))
		return
	fi
	case "$cmd $sub" in
	'init ' | 'projects add' | 'projects remove' | 'projects enable' | \
	    'projects disable')
		((npos == 0)) && _steroids_dirs "$cur" ;;
	'runners cron')
		((npos == 0)) && COMPREPLY=($(compgen -W 'install uninstall
		    status' -- "$cur")) ;;
	'config get' | 'config set')
		((npos == 0)) && COMPREPLY=($(compgen -W "$_steroids_keys" \
		    -- "$cur")) ;;
	esac
}

_steroids_agent()
{
	COMPREPLY=($(compgen -W '-d -P -v' -- "${COMP_WORDS[COMP_CWORD]}"))
}

complete -F _steroids steroids
complete -F _steroids_agent steroids-agent
