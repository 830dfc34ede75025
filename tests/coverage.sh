#!/bin/sh
# Line coverage of shim/ from a suite run over a --coverage build (make coverage).
#   tests/coverage.sh BUILD_DIR
set -eu
build="$1"
info="$build/coverage.info"
lcov --quiet --capture --directory "$build" --output-file "$info.all" 2>/dev/null
lcov --quiet --extract "$info.all" '*/shim/*' --output-file "$info"
lcov --list "$info"
echo
echo "Lines not executed by the suite:"
lcov --quiet --extract "$info" '*/shim/*' --output-file /dev/stdout 2>/dev/null |
	awk -F'[:,]' '/^SF:/ { file = $2; sub(".*/shim/", "shim/", file) }
	              /^DA:/ && $3 == 0 { lines[file] = lines[file] " " $2 }
	              END { for (f in lines) printf "  %s:%s\n", f, lines[f] }' | sort
