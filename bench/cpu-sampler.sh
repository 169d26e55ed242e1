#!/usr/bin/env bash
# Prints, once a second for SECONDS seconds, the CPU each running bench process used in the second before: the bench
# broker and every `compare-client` process (labelled by client and mode), in clock ticks (100 = one core). Run it
# beside `compare` to see how the machine's cores are shared between a client and the broker, e.g.
#
#   bash bench/cpu-sampler.sh 100 > cpu.log & \
#   dotnet bench/Kiel.Benchmarks/bin/Release/net10.0/Kiel.Benchmarks.dll compare --only "consume 1 KiB" --reps 1 --window 4 --broker bench --no-write
#
# It reads /proc only and stops by itself.
set -uo pipefail
seconds=${1:?seconds}
hz=$(getconf CLK_TCK)
[ "$hz" = 100 ] || echo "# clock ticks are $hz a second here: $hz = one core"
declare -A last
end=$((SECONDS + seconds))
while [ $SECONDS -lt $end ]; do
  line=""
  for p in $(pgrep -f "Kiel.Benchmarks.dll compare-client|Kiel.BenchBroker.dll"); do
    t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || continue
    [ -n "$t" ] || continue
    label=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -o "client=[^ ]* mode=[^ ]*\|BenchBroker" | head -1)
    [ -n "${last[$p]:-}" ] && line="$line | $label $((t - ${last[$p]}))"
    last[$p]=$t
  done
  echo "$(date +%T)$line"
  sleep 1
done
