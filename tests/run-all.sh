#!/usr/bin/env bash
# tests/run-all.sh - installs what is needed, builds pgfleet twice (plain,
# and with AddressSanitizer + UndefinedBehaviorSanitizer), and runs every
# test in both builds; the plain build's unit tests also run under
# valgrind. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh

jobs=$(nproc)
passed=0
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# run_suite NAME CMAKE_FLAGS...: configure, build, ctest; counts results
run_suite() {
	local name=$1 dir=build-test-$1 log
	shift
	echo "=== $name build (at ${SECONDS}s)" >&2
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGFLEET_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1 || { cat "$dir/build.log" >&2; return 1; }
	log=$(mktemp)
	(cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600) | tee "$log" || true
	local summary
	summary=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
	rm -f "$log"
	[ -n "$summary" ] || { echo "=== $name: ctest printed no summary" >&2; failed=$((failed + 1)); return 0; }
	local total bad
	total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$summary")
	bad=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$summary")
	passed=$((passed + total - bad))
	failed=$((failed + bad))
}

run_suite plain -DPGFLEET_SANITIZE=OFF
run_suite sanitize -DPGFLEET_SANITIZE=ON

# check NAME COMMAND...: runs COMMAND in the background, $jobs at a time
# (valgrind and libFuzzer keep a core busy each and wait for nothing), its
# output in $checks/NAME.log; collect_checks counts them when all are done
checks=$(mktemp -d)
check() {
	local name=$1
	shift
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	(if "$@" >"$checks/$name.log" 2>&1; then echo 0; else echo $?; fi >"$checks/$name.rc") &
}
collect_checks() {
	local rc name
	wait
	for rc in "$checks"/*.rc; do
		[ -e "$rc" ] || continue
		name=$(basename "$rc" .rc)
		if [ "$(cat "$rc")" = 0 ]; then
			passed=$((passed + 1))
		else
			echo "$name FAILED (exit $(cat "$rc"))" >&2
			tail -n 60 "$checks/$name.log" >&2
			failed=$((failed + 1))
		fi
		rm -f "$rc"
	done
}

# unit tests under valgrind: every allocation freed, no invalid access
echo "=== valgrind (unit tests, plain build) (at ${SECONDS}s)" >&2
valgrind_options="-q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
for test in build-test-plain/tests/test_*; do
	[ -x "$test" ] || continue
	# it needs a PostgreSQL server: run under valgrind by its e2e below
	[ "$(basename "$test")" = test_store_pg ] && continue
	# shellcheck disable=SC2086
	check "valgrind-$(basename "$test")" valgrind $valgrind_options "$test"
done
# test_store_pg against the server its e2e test starts, under valgrind
check valgrind-test_store_pg env -C build-test-plain \
	PGFLEET_TEST_WRAPPER="valgrind $valgrind_options" \
	ctest -R '^e2e_store_pg_compare$' --output-on-failure --timeout 600
collect_checks

# bounded fuzzing (tests/fuzz): in CI only, when clang is there; each
# libFuzzer target runs FUZZ_SECONDS from its seed corpus (new inputs go
# to a scratch folder, not into the repository)
if [ "${CI:-}" = true ] && command -v clang >/dev/null; then
	echo "=== fuzz (clang, libFuzzer) (at ${SECONDS}s)" >&2
	fuzz_dir=build-test-fuzz
	if CC=clang cmake -S . -B "$fuzz_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGFLEET_WERROR=OFF \
		-DPGFLEET_FUZZ=ON >/dev/null &&
		cmake --build "$fuzz_dir" -j "$jobs" --target fuzz_report fuzz_ingest fuzz_api fuzz_cfg \
			>"$fuzz_dir/build.log" 2>&1; then
		fuzz_scratch=$(mktemp -d)
		for target in report ingest api cfg; do
			mkdir "$fuzz_scratch/$target"
			check "fuzz_$target (crash input in $fuzz_dir)" "$fuzz_dir/tests/fuzz/fuzz_$target" \
				-max_total_time="${FUZZ_SECONDS:-35}" -rss_limit_mb=2048 -timeout=10 \
				-artifact_prefix="$fuzz_dir/" "$fuzz_scratch/$target" "tests/fuzz/corpus/$target"
		done
		collect_checks
		rm -rf "$fuzz_scratch"
	else
		cat "$fuzz_dir/build.log" >&2
		failed=$((failed + 1))
	fi
fi
rm -rf "$checks"

echo "total: $passed passed, $failed failed (in ${SECONDS}s)"
[ "$failed" -eq 0 ]
