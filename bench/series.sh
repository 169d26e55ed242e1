#!/usr/bin/env bash
# A series of one compare scenario, for comparisons that need more runs than `compare` makes: the awaited scenario (one
# record at a time, each awaited) for latency, or fire-and-forget produce for the rate. It starts one bench broker in a
# process of its own, then runs each client once per round, each in a new process, rotating their order from round to
# round, and prints every run's RESULT line and, per client, the median over the rounds of its figures over
# Confluent.Kafka's in the same round: p50 and p99 (awaited), or records per second and CPU per record (produce).
# Every run is checked as `compare` checks it (the delivered count, and the broker's count and payload checksum); a
# failed check stops the series.
#
#   bash bench/series.sh awaited|produce SIZE ROUNDS LINGER_MS [CLIENT[@DIR][:ENV=VALUE]...]
#
# CLIENT is kiel, confluent or floor. A @DIR after it runs that client from another build's bench folder (DIR holds its
# Kiel.Benchmarks.dll, e.g. a worktree of an older commit: `git worktree add ../base COMMIT`, then `dotnet build -c
# Release bench/Kiel.Benchmarks` there and name ../base/bench/Kiel.Benchmarks/bin/Release/net10.0), so two builds run
# side by side against the same broker; the run is labelled with the whole spec.
# The floor is no Kafka client, only what the scenario cannot avoid: awaited, one
# thread, a blocking socket, the linger as a timed wait, then one pre-encoded Produce request and its answer
# (bench/Kiel.Benchmarks/Compare/CompareClient.Floor.cs); produce, each value copied into a batch, the batch's CRC, one
# request per full batch on a blocking socket, answers read by a second thread, at most 5 outstanding
# (FloorProduce in the same file). An ENV=VALUE after a colon is set for that client's process only, and the run is
# labelled client:ENV=VALUE. Default: kiel confluent floor. PARTITIONS=N in the environment sets the topic's partition
# count (default 6, as in `compare`). Windows are 5 s (awaited) or 3 s (produce). The rotation keeps the clients'
# cyclic order, so each client always runs right after the same other one; a second series in another order shows
# whether that matters (docs/performance.md, thirty-third round, ran both orders of kiel, confluent and floor).
# bench/awaited-series.sh ROUNDS LINGER_MS [CLIENT...] is this script's awaited series of 100 B records.
# Build first: dotnet build -c Release bench/Kiel.Benchmarks
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/Kiel.Benchmarks/bin/Release/net10.0
mode=${1:?mode: awaited or produce}; size=${2:?record size in bytes}; rounds=${3:?rounds}; linger=${4:?linger in ms}; shift 4
case $mode in
  awaited) window=5; cold=2000 ;;
  produce) window=3; cold=100000 ;;
  *) echo "mode $mode: awaited or produce" >&2; exit 2 ;;
esac
partitions=${PARTITIONS:-6}
clients=("$@"); [ ${#clients[@]} -gt 0 ] || clients=(kiel confluent floor)
[ -f "$bin/Kiel.Benchmarks.dll" ] || { echo "build first: dotnet build -c Release bench/Kiel.Benchmarks" >&2; exit 2; }
for spec in "${clients[@]}"; do
  head=${spec%%:*}
  case $head in
    *@*) [ -f "${head#*@}/Kiel.Benchmarks.dll" ] || { echo "$spec: no Kiel.Benchmarks.dll in ${head#*@}; build that tree's bench/Kiel.Benchmarks first" >&2; exit 2; } ;;
  esac
done

work=$(mktemp -d)
holder=
broker=
cleanup() {
  [ -n "$broker" ] && kill "$broker" 2>/dev/null || true
  [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# The broker runs until its standard input ends: a fifo held open by a sleeper, both stopped on exit.
mkfifo "$work/in"
sleep 100000 > "$work/in" & holder=$!
dotnet "$bin/Kiel.BenchBroker.dll" < "$work/in" > "$work/broker.log" 2>&1 & broker=$!
for _ in $(seq 1 100); do grep -q '^listening ' "$work/broker.log" && break; sleep 0.1; done
bootstrap=$(sed -n 's/^listening //p' "$work/broker.log")
[ -n "$bootstrap" ] || { echo "the bench broker did not start: $(cat "$work/broker.log")" >&2; exit 1; }
echo "# bench broker at $bootstrap; $rounds rounds of $mode $size B: ${clients[*]}; linger $linger ms, $partitions partitions, $window s windows"

# Every run is checked as `compare` checks it: the client delivered what it produced, and the broker received that
# many records, refused no batch, and its checksum over every payload byte is the expected one.
field() { tr ' ' '\n' <<< "$2" | sed -n "s/^$1=//p"; }
check() {
  local topic=$1 line=$2 produced delivered failed expected stats
  produced=$(field produced "$line"); delivered=$(field delivered "$line"); failed=$(field failed "$line")
  [ -n "$produced" ] || { echo "no produced count in: $line" > "$work/why"; return 1; }
  if [ -n "$delivered" ] && { [ "$delivered" != "$produced" ] || [ "${failed:-0}" != 0 ]; }; then
    echo "$delivered delivered, ${failed:-0} failed of $produced produced" > "$work/why"; return 1
  fi
  echo "stats $topic" > "$work/in"
  for _ in $(seq 1 100); do stats=$(awk -v t="$topic" '$1 == "stats" && $2 == t' "$work/broker.log"); [ -n "$stats" ] && break; sleep 0.1; done
  [ -n "$stats" ] || { echo "the bench broker did not answer stats for $topic" > "$work/why"; return 1; }
  expected=$(dotnet "$bin/Kiel.Benchmarks.dll" produce-checksum size="$size" count="$produced")
  read -r _ _ records _ _ checksum errors <<< "$stats"
  if [ "$records" != "$produced" ] || [ "$errors" != 0 ] || [ "$checksum" != "$expected" ]; then
    echo "the broker received $records records ($errors refused batches, checksum $checksum) of $produced produced (checksum $expected)" > "$work/why"
    return 1
  fi
  echo "# checked: $records records received, checksum $checksum" >> "$work/checked"
}

n=${#clients[@]}
for r in $(seq 1 "$rounds"); do
  for k in $(seq 0 $((n - 1))); do
    spec=${clients[$(( (k + r) % n ))]}
    head=${spec%%:*}; env=; [ "$spec" != "$head" ] && env=${spec#*:}
    client=${head%%@*}; cbin=$bin; [ "$head" != "$client" ] && cbin=${head#*@}
    topic=bench.p$partitions.s$size.none.series$r.$k
    line=$(env $env dotnet "$cbin/Kiel.Benchmarks.dll" compare-client client="$client" mode="$mode" bootstrap="$bootstrap" \
      topic="$topic" size="$size" partitions="$partitions" compression=None linger="$linger" window="$window" cold="$cold" explicit=False \
      2> "$work/err" | grep '^RESULT ' || true)
    [ -n "$line" ] || { echo "round $r, $spec: no RESULT: $(tail -5 "$work/err")" >&2; exit 1; }
    echo "$r $spec $line" | tee -a "$work/runs"
    check "$topic" "$line" || { echo "round $r, $spec: $(cat "$work/why")" >&2; exit 1; }
  done
done

echo "# $(wc -l < "$work/checked") runs checked: each client's delivered count, and the broker's record count and payload checksum"
# Per client: the median, over the rounds, of its figures divided by Confluent.Kafka's in the same round.
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "none"; exit } m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f (%.2f-%.2f over %d rounds)", m, a[1], a[NR], NR }'; }
if [ "$mode" = awaited ]; then first=p50_ms; second=p99_ms; else first=msg_per_s; second=cpu_us_per_msg; fi
for spec in "${clients[@]}"; do
  [ "$spec" = confluent ] && continue
  awk -v A="$spec" -v F="$first" -v S="$second" '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == F) f[$1, $2] = kv[2]; if (kv[1] == S) s[$1, $2] = kv[2] } }
    END { for (k in f) { split(k, q, SUBSEP); if (q[2] == A && ((q[1], "confluent") in f))
            print f[k] / f[q[1], "confluent"], s[k] / s[q[1], "confluent"] } }' "$work/runs" > "$work/ratios"
  echo "# $spec over confluent: ${first%_ms} $(cut -d' ' -f1 "$work/ratios" | median), ${second%_ms} $(cut -d' ' -f2 "$work/ratios" | median)"
done
