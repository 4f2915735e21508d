#!/usr/bin/env bash
# Runs every Tollgate test. Installs what the tests need when it is missing, then runs the
# suite and ends with one line: "tests: N passed, N failed[, N skipped]". Exits non-zero when
# anything failed.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Debian packages the tests need: Chromium for the dashboard's browser tests (driven by Playwright, which
# never downloads a browser of its own), fonts for pages and charts, time zones for the reporting zones,
# PostgreSQL and Redis for the cluster tests (each test starts throwaway servers of its own: no Docker).
REQUIRED_PACKAGES=(chromium fonts-dejavu-core tzdata postgresql redis-server)

install_missing_packages() {
  local missing=()
  for package in "${REQUIRED_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "Installing ${missing[*]}..."
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

if ! command -v dotnet >/dev/null 2>&1; then
  echo "The .NET 10 SDK is required (https://dot.net); 'dotnet' is not on PATH." >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
fi
install_missing_packages

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# The storage, billing, keys and usage tests run twice: on SQLite, and again on PostgreSQL (TOLLGATE_TEST_STORAGE),
# so both storages keep one behaviour.
POSTGRES_SUITES="FullyQualifiedName~Tollgate.Tests.Credits|FullyQualifiedName~Tollgate.Tests.ApiKeys|FullyQualifiedName~Tollgate.Tests.Authentication"
POSTGRES_SUITES="$POSTGRES_SUITES|FullyQualifiedName~Tollgate.Tests.Usage|FullyQualifiedName~Tollgate.Tests.RateLimiting"
POSTGRES_SUITES="$POSTGRES_SUITES|FullyQualifiedName~Tollgate.Tests.Dashboard.Admin|FullyQualifiedName~Tollgate.Tests.Dashboard.SignInTests"
# ... but not those that build a SQLite store or journal themselves (they would only run again on SQLite).
POSTGRES_SUITES="($POSTGRES_SUITES)&FullyQualifiedName!~CreditLedgerPropertyTests&FullyQualifiedName!~UsageJournalTests"
POSTGRES_SUITES="$POSTGRES_SUITES&FullyQualifiedName!~CrashDurabilityTests"

set +e
dotnet test Tollgate.slnx --logger "trx" --results-directory "$results" "$@"
status=$?
if [ "$status" -eq 0 ] || [ -n "$(ls "$results"/*.trx 2>/dev/null)" ]; then
  TOLLGATE_TEST_STORAGE=postgres dotnet test tests/Tollgate.Tests --no-build --filter "$POSTGRES_SUITES" \
    --logger "trx;LogFileName=postgres.trx" --results-directory "$results" "$@"
  postgres_status=$?
  [ "$postgres_status" -eq 0 ] || status=$postgres_status
fi
set -e

passed=0 failed=0 total=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  value() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  total=$((total + $(value total)))
  passed=$((passed + $(value passed)))
  failed=$((failed + $(value failed) + $(value error) + $(value timeout) + $(value aborted)))
done
skipped=$((total - passed - failed))
[ "$skipped" -ge 0 ] || skipped=0

# A build failure or a crashed test host leaves no counters: count it as a failure.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi

summary="tests: $passed passed, $failed failed"
[ "$skipped" -eq 0 ] || summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
