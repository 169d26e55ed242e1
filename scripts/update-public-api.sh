#!/usr/bin/env bash
# Rewrites PublicAPI.Unshipped.txt of every packable library from its code, so that the lead (or anyone who changed
# the public surface on purpose) can regenerate the files after a merge and review the diff.
#
#   scripts/update-public-api.sh            # all tracked projects
#   scripts/update-public-api.sh src/Kiel   # one project folder
#
# How: each Unshipped file is reset to its header, then `dotnet format analyzers` applies the PublicApiAnalyzers
# code fix for RS0016 ("symbol is not part of the declared public API") to the whole project at once. Entries in
# PublicAPI.Shipped.txt are kept; an API that was removed simply does not come back into Unshipped. Non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."

projects=("$@")
if [ ${#projects[@]} -eq 0 ]; then
  projects=(src/Kiel src/Kiel.ZooKeeper src/Kiel.Testing src/Kiel.Extensions.Hosting)
fi

# Restore once for all of them (the format step below does not restore).
for dir in "${projects[@]}"; do
  dotnet restore "$dir" --nologo -v quiet >/dev/null
done

for dir in "${projects[@]}"; do
  proj=$(ls "$dir"/*.csproj)
  [ -f "$dir/PublicAPI.Shipped.txt" ] || printf '#nullable enable\n' > "$dir/PublicAPI.Shipped.txt"
  printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
  echo "update-public-api: $proj"
  # Exit code 0 even when fixes were applied; --verify-no-changes is not used on purpose.
  dotnet format analyzers "$proj" --no-restore --diagnostics RS0016 --severity warn -v quiet
  # Keep the file in a stable order (the code fix appends), header first.
  { echo '#nullable enable'; grep -v '^#nullable enable$' "$dir/PublicAPI.Unshipped.txt" | grep -v '^$' | LC_ALL=C sort -u; } > "$dir/PublicAPI.Unshipped.txt.tmp"
  mv "$dir/PublicAPI.Unshipped.txt.tmp" "$dir/PublicAPI.Unshipped.txt"
  echo "  $(($(wc -l < "$dir/PublicAPI.Unshipped.txt") - 1)) entries in $dir/PublicAPI.Unshipped.txt"
done
