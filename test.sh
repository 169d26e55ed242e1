#!/usr/bin/env bash
# Builds Kiel and runs every test project; installs what the tests need first when run as root.
# Ends with one line "N passed, N failed, N skipped" summed over all projects; exits non-zero on a
# build error, any failed test, a crashed test host, or when no test ran.
# `./test.sh --busy` (or KIEL_BUSY=1 ./test.sh) runs everything beside a process that spins one core for the whole run,
# as CI does, so that tests which only pass on an idle machine fail here first. Extra arguments are passed to
# `dotnet test` (for example --filter "FullyQualifiedName~Producing").
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
busy=${KIEL_BUSY:-0}
test_args=()
for arg in "$@"; do
  case "$arg" in
    --busy) busy=1 ;;
    *) test_args+=("$arg") ;;
  esac
done
# shellcheck source=scripts/deps.sh
. "$here/scripts/deps.sh"
kiel_ensure_deps || exit 1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# ZooKeeper servers already running (someone's `kiel cluster --zookeeper`) are not ours to judge.
zk_before=" $(pgrep -d ' ' -f 'org.apache.zookeeper.server' || true) "
results=$(mktemp -d /tmp/kiel-test-results.XXXXXX)
spinner=""
cleanup() {
  if [ -n "$spinner" ]; then kill "$spinner" 2>/dev/null; wait "$spinner" 2>/dev/null; fi
  rm -rf "$results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$busy" != 0 ] && [ "$busy" != "" ]; then
  # One core kept busy by a plain shell loop (no tools needed); stopped by the trap however the run ends.
  # It also stops by itself within about a second once this script is gone (even after a SIGKILL, which no trap sees).
  ( trap - INT TERM; parent=$$; while kill -0 "$parent" 2>/dev/null; do for _ in {1..20000}; do :; done; done ) &
  spinner=$!
  echo "busy mode: process $spinner spins one core for the whole run"
fi
# The build and the test hosts (the .NET SDK and test platform leave empty folders behind) get a temp folder of their own,
# removed with the results, so a run leaves nothing in /tmp.
mkdir -p "$results/tmp"
export TMPDIR="$results/tmp" TMUX_TMPDIR="$results/tmp"
if ! dotnet build Kiel.slnx -c Release -nologo -v quiet -warnaserror; then
  echo "build failed"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

# A run started in the background by a non-interactive shell inherits SIGINT ignored, and so would every process the
# tests start and then stop with SIGINT (as Ctrl-C does): start the test hosts with SIGINT back at its default.
with_sigint() {
  if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"
  else
    "$@"
  fi
}

status=0
passed=0; failed=0; skipped=0
for proj in tests/*/*.csproj; do
  grep -q '<IsTestProject>true</IsTestProject>' "$proj" || continue   # helpers such as the group member host
  name=$(basename "$proj" .csproj)
  echo "== $name"
  with_sigint dotnet test "$proj" -c Release --no-build -nologo ${test_args[@]+"${test_args[@]}"} \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" \
    --results-directory "$results" --blame-hang-timeout 8m
  rc=$?
  [ "$rc" -ne 0 ] && status=1
  trx="$results/$name.trx"
  if [ ! -f "$trx" ]; then
    echo "$name: no test results (the test host crashed or did not start)"
    failed=$((failed + 1)); status=1
    continue
  fi
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  p=$(get passed); f=$(get failed); e=$(get error); t=$(get timeout); a=$(get aborted); n=$(get notExecuted)
  p=${p:-0}; f=$(( ${f:-0} + ${e:-0} + ${t:-0} + ${a:-0} )); n=${n:-0}
  # A test host that crashed or hung mid-run leaves results that show no failure: count the aborted run as one.
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$name: the test run ended with exit code $rc (test host crashed, hung or aborted): counted as 1 failed"
    f=1
  fi
  echo "$name: $p passed, $f failed, $n skipped"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + n))
done

# Nothing left behind: every process the tests started inherited TMPDIR="$results/tmp", and every temp file they made
# went there. Whatever of either is still there now was left behind by a test (a killed child's diagnostic pipes, a
# server that was not stopped). Empty folders and the build's own NuGet/MSBuild scratch are the SDK's, and the build
# servers (MSBuild nodes, the compiler server) that `dotnet build` started are meant to outlive it.
left_files=$(find "$results/tmp" -mindepth 1 \( -name 'NuGetScratch*' -o -name 'MSBuildTemp*' \) -prune -o ! -type d -print 2>/dev/null)
left_procs=""
for proc in /proc/[0-9]*; do
  pid=${proc#/proc/}
  [ "$pid" = "$$" ] && continue
  { tr '\0' '\n' < "$proc/environ"; } 2>/dev/null | grep -qxF "TMPDIR=$results/tmp" || continue
  cmd=$({ tr '\0' ' ' < "$proc/cmdline"; } 2>/dev/null)
  case "$cmd" in *MSBuild.dll*|*VBCSCompiler*|*Razor*|*org.apache.zookeeper.server*|"") continue ;; esac  # ZooKeeper: checked below
  left_procs="$left_procs $pid"
done
if [ -n "$left_files" ]; then
  echo "files the tests left in their temp folder:"
  echo "$left_files" | head -20
  failed=$((failed + 1)); status=1
fi
if [ -n "$left_procs" ]; then
  echo "processes the tests started and left running:"
  for pid in $left_procs; do echo "  $pid $({ tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | cut -c1-150)"; done
  kill $left_procs 2>/dev/null || true
  failed=$((failed + 1)); status=1
fi

# A full run (no extra arguments) also packs every package and uses them as a new user would (scripts/pack-smoke.sh):
# a console app built from the packages runs the README's quick start, and the kiel tool installs and answers.
if [ ${#test_args[@]} -eq 0 ]; then
  echo "== pack-smoke"
  smoke=$(bash "$here/scripts/pack-smoke.sh" 2>&1); smoke_status=$?
  echo "$smoke"
  line=$(grep -o 'pack-smoke: [0-9]* passed, [0-9]* failed' <<< "$smoke" | tail -1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)); status=1
  else
    p=$(sed 's/.*: \([0-9]*\) passed.*/\1/' <<< "$line"); f=$(sed 's/.* \([0-9]*\) failed/\1/' <<< "$line")
    passed=$((passed + p)); failed=$((failed + f))
  fi
  [ "$smoke_status" -ne 0 ] && status=1
fi

# Tests must not leave servers behind: report (and stop) any ZooKeeper server that the tests started and left.
leftover=""
for pid in $(pgrep -f 'org.apache.zookeeper.server' || true); do
  case "$zk_before" in *" $pid "*) ;; *) leftover="$leftover $pid" ;; esac
done
if [ -n "$leftover" ]; then
  echo "leftover ZooKeeper processes after the tests: $leftover"
  kill $leftover 2>/dev/null || true
  failed=$((failed + 1)); status=1
fi

[ "$failed" -gt 0 ] && status=1
if [ "$passed" -eq 0 ]; then
  echo "no test ran"
  status=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
