#!/usr/bin/env bash
# Coverage-guided fuzzing of one decoder target with afl++ and SharpFuzz:
#   fuzz/run.sh TARGET [MINUTES]      TARGET: records | responses | zookeeper | sasl; MINUTES defaults to 10
# Installs afl++ (Debian, when root) and the SharpFuzz instrumentation tool, builds fuzz/Kiel.Fuzz, instruments
# Kiel.dll and Kiel.ZooKeeper.dll, seeds the corpus with inputs made by the production encoders, runs afl-fuzz for the
# given time and prints one summary line (executions, corpus, coverage, crashes, hangs). Inputs that crash or hang are
# copied to fuzz/findings/TARGET/, which the replay test (tests/Kiel.Tests/Fuzz) runs on every build: a finding becomes a
# regression test by being there. Work files live in fuzz/out/TARGET (ignored by git).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${1:?usage: fuzz/run.sh records|responses|zookeeper|sasl [MINUTES]}
minutes=${2:-10}
case "$target" in records|responses|zookeeper|sasl) ;; *) echo "unknown target '$target': records, responses, zookeeper or sasl" >&2; exit 2 ;; esac

if ! command -v afl-fuzz > /dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ > /dev/null
  else
    echo "afl-fuzz is missing: sudo apt-get install -y afl++" >&2; exit 1
  fi
fi
tools="$root/fuzz/out/tools"
if [ ! -x "$tools/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" > /dev/null
fi

out="$root/fuzz/out/$target"
# KIEL_FUZZ_REUSE=1 resumes with the previous run's instrumented build and corpus (no build: for resuming on a busy
# machine; only right when nothing under src/ or fuzz/ changed since).
reuse=0
if [ -n "${KIEL_FUZZ_REUSE:-}" ] && [ -e "$out/bin/.instrumented" ] && { [ -d "$out/findings" ] || [ -d "$out/corpus" ]; }; then reuse=1; fi
if [ "$reuse" = 0 ]; then
  rm -rf "$out/bin"
  mkdir -p "$out"
  dotnet build "$root/fuzz/Kiel.Fuzz" -c Release -nologo -v quiet -o "$out/bin" > /dev/null
fi
if [ ! -d "$out/findings" ]; then
  if [ "$reuse" = 0 ]; then
    rm -rf "$out/corpus"
    dotnet "$out/bin/Kiel.Fuzz.dll" seed "$target" "$out/corpus" > /dev/null
  fi
  input="$out/corpus"
else
  input=-   # resume the previous campaign's queue
fi
# Instrument only now: instrumented code crashes when it runs outside afl (seeding above runs the encoders).
if [ "$reuse" = 0 ]; then
  for dll in Kiel.dll Kiel.ZooKeeper.dll; do "$tools/sharpfuzz" "$out/bin/$dll" > /dev/null; done
  touch "$out/bin/.instrumented"
fi

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
# AFL_FAST_CAL: calibrate a new queue entry with fewer runs (the target is deterministic: stability is ~100%).
export AFL_FAST_CAL=1
export DOTNET_EnableDiagnostics=0 DOTNET_TieredPGO=0
# The harness runs in SharpFuzz's in-process persistent mode (one process for every input: fast). An undocumented
# exception is reported to afl as a crash and saved by it. A stack overflow or a hang (afl's timeout, 5 s) kills the
# process, which is also afl's fork server, and afl stops ("Fork server is dead", or "Unable to request new process from
# fork server" when it died between two inputs): its current input is then the
# finding, saved as killed-HASH, and the campaign resumes (at most 20 times) until the time is up.
saved="$root/fuzz/findings/$target"
found=0
deadline=$(( $(date +%s) + minutes * 60 ))
for attempt in $(seq 1 21); do
  left=$(( deadline - $(date +%s) ))
  [ "$left" -gt 0 ] || break
  [ "$attempt" -le 20 ] || { echo "the target died 20 times; stopping" >&2; break; }
  if afl-fuzz -V "$left" -i "$input" -o "$out/findings" -t 5000 -m none -- dotnet "$out/bin/Kiel.Fuzz.dll" "$target" > "$out/afl.log" 2>&1; then
    break
  fi
  cur="$out/findings/default/.cur_input"
  if grep -q "Fork server is dead\|Unable to communicate with fork server\|Unable to request new process from fork server" "$out/afl.log" && [ -e "$cur" ]; then
    mkdir -p "$saved"; cp "$cur" "$saved/killed-$(sha256sum < "$cur" | cut -c1-16)"; found=$((found + 1))
    echo "the target process died on an input (saved in fuzz/findings/$target); resuming" >&2
    input=-
    continue
  fi
  echo "afl-fuzz failed; the end of its log:" >&2; tail -20 "$out/afl.log" >&2; exit 1
done

stats="$out/findings/default/fuzzer_stats"
get() { sed -n "s/^$1 *: *//p" "$stats"; }
for kind in crashes hangs; do
  for f in "$out/findings/default/$kind"/id:*; do
    [ -e "$f" ] || continue
    mkdir -p "$saved"; cp "$f" "$saved/$kind-$(sha256sum < "$f" | cut -c1-16)"; found=$((found + 1))
  done
done
echo "fuzz $target: $(get execs_done) executions in $(get run_time) s ($(get execs_per_sec)/s), corpus $(get corpus_count), coverage $(get bitmap_cvg), crashes $(get saved_crashes), hangs $(get saved_hangs)"
[ "$found" -eq 0 ] || { echo "$found finding(s) saved in fuzz/findings/$target: replay with the Kiel.Tests FuzzReplay tests"; exit 1; }
