#!/usr/bin/env bats
# Bash completion (shim/completion/noselfconn, issue 22 item 4): options,
# their values, then COMMAND completed as bash completes it.

load helpers

# complete_line WORDS...: what completing the last word offers, one a line.
complete_line() {
	run bash -c '
		. /usr/share/bash-completion/bash_completion
		. "$1"
		shift
		compopt() { :; } # outside a real completion, it has nothing to set
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="${COMP_WORDS[*]}"
		COMP_POINT=${#COMP_LINE}
		_noselfconn noselfconn "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' - "$BUILD/completion/noselfconn" "$@"
	[ "$status" -eq 0 ]
}

@test "completion: options, their values, and COMMAND's own" {
	[ -f /usr/share/bash-completion/bash_completion ] || skip "needs bash-completion (tests/deps.sh installs it)"
	complete_line noselfconn --mo
	[ "$output" = "--mode=" ]
	complete_line noselfconn --mode=p
	[ "$output" = prebind ]
	complete_line noselfconn --mode ''
	[ "$(sort <<<"$output" | xargs)" = "check off prebind" ]
	complete_line noselfconn --fallback=
	[ "$(sort <<<"$output" | xargs)" = "none preload" ]
	complete_line noselfconn --log=sy
	[ "$output" = syslog ]
	complete_line noselfconn --sta
	[ "$output" = --status ]
	# After COMMAND, COMMAND's own: here a command name, then a file.
	complete_line noselfconn --log telnet
	grep -qx telnet <<<"$output"
	mkdir -p "$BATS_TEST_TMPDIR/files" && touch "$BATS_TEST_TMPDIR/files/some-file"
	complete_line noselfconn -m off cat "$BATS_TEST_TMPDIR/files/some-"
	[ "$output" = "$BATS_TEST_TMPDIR/files/some-file" ]
	# Every long option the help names is offered.
	local option
	for option in $("$WRAPPER" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		complete_line noselfconn "$option"
		echo "$option: $output"
		grep -Eqx -- "$option=?" <<<"$output"
	done
}
