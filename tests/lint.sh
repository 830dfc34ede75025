#!/bin/sh
# Static analysis: cppcheck and clang-tidy over shim/, shellcheck over every
# shell script. Any finding fails. Configuration: .clang-tidy, and the
# cppcheck and shellcheck options below (each exception says why).
set -eu
cd "$(dirname "$0")/.."

echo "lint: cppcheck"
# missingIncludeSystem: cppcheck is not given the system headers' paths.
cppcheck --enable=all --inline-suppr --std=c11 --quiet --error-exitcode=1 \
	--suppress=missingIncludeSystem -I shim/common -I shim/lib shim/

echo "lint: clang-tidy"
if ! findings=$(clang-tidy --quiet shim/*/*.c shim/cmd/*/*.c -- -std=gnu11 -Ishim/common -Ishim/lib 2>&1); then
	printf '%s\n' "$findings" | grep -v 'warnings generated'
	exit 1
fi

echo "lint: shellcheck"
shellcheck -x demo/*.sh tests/*.sh tests/helpers/*.sh tests/bench/*.sh tests/kernels/*.sh \
	tests/package/*.sh shim/pkg/*.sh shim/pkg/debian/*.prerm .ci/run
shellcheck -s bash shim/completion/noselfconn
# bats files are bash with bats' own variables and scoping:
#   SC2030/SC2031: every @test runs in a subshell by design;
#   SC2034: variables such as NSC_TEST_RANGE are read by helpers.bash;
#   SC2154: $output, $status and $stderr are set by bats' `run`.
shellcheck -s bash -e SC2030,SC2031,SC2034,SC2154 -S warning tests/*.bats tests/package/*.bats tests/helpers.bash
echo "lint: clean"
