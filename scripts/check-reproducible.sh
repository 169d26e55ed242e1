#!/usr/bin/env bash
# Builds the committed HEAD in two fresh clones in different folders, as CI does (CI=true), and compares the bytes of
# every packable library and its PDB. Prints "reproducible" or the files that differ; exits non-zero when any differs.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kiel-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT
for side in a b/deeper/folder; do
  git clone -q "$repo" "$work/$side"
  (cd "$work/$side" && for p in src/Kiel.Cli src/Kiel.Extensions.Hosting; do CI=true dotnet build "$p" -c Release -nologo -v quiet > /dev/null; done)
done
differ=0
for lib in Kiel Kiel.ZooKeeper Kiel.Testing Kiel.Extensions.Hosting Kiel.Cli; do
  for ext in dll pdb; do
    a="$work/a/src/$lib/bin/Release/net10.0/$lib.$ext"; b="$work/b/deeper/folder/src/$lib/bin/Release/net10.0/$lib.$ext"
    if cmp -s "$a" "$b"; then echo "same:    $lib.$ext $(sha256sum < "$a" | cut -c1-16)"; else echo "DIFFERS: $lib.$ext"; differ=1; fi
  done
done
[ "$differ" -eq 0 ] && echo "reproducible"
exit "$differ"
