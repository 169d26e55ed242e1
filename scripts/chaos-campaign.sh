#!/usr/bin/env bash
# A long chaos campaign: `kiel chaos` over consecutive seeds, alternating ZooKeeper and Kafka coordination, until
# MINUTES have passed. Prints each run's verdict line and a total; exits 1 when any run failed (its output is kept).
#   scripts/chaos-campaign.sh MINUTES [FIRST_SEED] [DURATION]      e.g. scripts/chaos-campaign.sh 30 1000 60s
# KIEL names the kiel command (default: dotnet src/Kiel.Cli/bin/Release/net10.0/Kiel.Cli.dll, built beforehand).
# KIEL_CHAOS_LOGS names a folder that keeps every run's output (default: only failed runs' output is kept).
set -uo pipefail
minutes=${1:?usage: chaos-campaign.sh MINUTES [FIRST_SEED] [DURATION]}
seed=${2:-1000}
duration=${3:-60s}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
read -r -a kiel <<< "${KIEL:-dotnet $here/src/Kiel.Cli/bin/Release/net10.0/Kiel.Cli.dll}"
if [ -n "${KIEL_CHAOS_LOGS:-}" ]; then out=$KIEL_CHAOS_LOGS; mkdir -p "$out"; keep_all=1
else out=$(mktemp -d "${TMPDIR:-/tmp}/kiel-chaos.XXXXXX"); keep_all=0; fi
end=$(( $(date +%s) + minutes * 60 ))
runs=0; failed=0
while [ "$(date +%s)" -lt "$end" ]; do
  if [ $(( seed % 2 )) -eq 0 ]; then coordination=zookeeper; else coordination=kafka; fi
  log="$out/seed-$seed-$coordination.log"
  if "${kiel[@]}" chaos --seed "$seed" --duration "$duration" --coordination "$coordination" > "$log" 2>&1; then
    rm -f "$log.keep"
  else
    failed=$(( failed + 1 )); cp "$log" "$log.keep"
  fi
  runs=$(( runs + 1 ))
  line=$(grep "^seed $seed:" "$log" || echo "seed $seed: no verdict ($(tail -1 "$log"))")
  echo "$coordination $line ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
  grep -E "^  (log read back|longest|FAILED)" "$log" | sed 's/^/    /'
  seed=$(( seed + 1 ))
done
echo "campaign: $runs run(s), $failed failed; logs of failed runs in $out (*.keep)"
if [ "$keep_all" -eq 0 ]; then
  find "$out" -name '*.log' -delete
  rmdir "$out" 2>/dev/null || true
fi
[ "$failed" -eq 0 ]
