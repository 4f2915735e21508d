#!/usr/bin/env bash
# Tollgate's benchmark program: installs what it needs, builds in Release, runs it.
#   bench/run.sh [compare] [--quick] [--rounds N] [--round-seconds N] [--skip-portkey]
#   bench/run.sh soak [--minutes 10]
#   bench/run.sh billing [seconds]
# The program starts and stops every process it needs; the trap below is the second line of defence.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/bench/.tools"
portkey_version="1.15.2"
command="${1:-compare}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# What compare and soak need: nginx-light and wrk from Debian, Portkey from npm (into bench/.tools, git-ignored).
if [ "$command" != billing ]; then
    missing=()
    command -v nginx >/dev/null || missing+=(nginx-light)
    command -v wrk >/dev/null || missing+=(wrk)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "Installing ${missing[*]}" >&2
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    installed_portkey="$(node -p "require('$tools/node_modules/@portkey-ai/gateway/package.json').version" 2>/dev/null || true)"
    if [ "$installed_portkey" != "$portkey_version" ]; then
        command -v npm >/dev/null || { as_root apt-get update -qq; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
        echo "Installing @portkey-ai/gateway@$portkey_version into bench/.tools" >&2
        mkdir -p "$tools"
        npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "@portkey-ai/gateway@$portkey_version" >/dev/null
    fi
fi

echo "Building Tollgate, the fake upstream and the benchmark (Release)" >&2
build_log="$(mktemp -t tollgate-bench-build.XXXXXX)"
for project in src/Tollgate src/Tollgate.FakeUpstream bench/Tollgate.Bench; do
    dotnet build "$root/$project" -c Release --nologo -v quiet >"$build_log" 2>&1 || { cat "$build_log" >&2; rm -f "$build_log"; exit 1; }
done
rm -f "$build_log"

# wrk at 1024 connections and nginx need more descriptors than the usual soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

pidfile="$(mktemp -t tollgate-bench-pids.XXXXXX)"
bench_pid=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        sleep 2
        kill -KILL "$bench_pid" 2>/dev/null || true
    fi
    # Children the program recorded and did not get to stop itself.
    while read -r pid; do
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done < "$pidfile"
    rm -f "$pidfile"
    exit "$status"
}
trap cleanup EXIT INT TERM

cd "$root"
TOLLGATE_BENCH_PIDFILE="$pidfile" dotnet "$root/bench/Tollgate.Bench/bin/Release/net10.0/Tollgate.Bench.dll" "$@" &
bench_pid=$!
wait "$bench_pid"
