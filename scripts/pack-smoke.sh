#!/usr/bin/env bash
# Packs every packable project, then uses the packages as a new user would:
#   1. a new console app adds Kiel and Kiel.Testing from the pack folder, and its Program.cs is the README's quick
#      start (the first block marked to be run), built and run against the embedded cluster it starts;
#   2. the kiel tool installs from the pack folder and answers --version.
# Prints one line per check and ends with "pack-smoke: N passed, N failed"; exits non-zero on any failure.
# Everything lives in one temp folder (packages, app, NuGet cache of its own), removed at the end.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kiel-pack-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
check() { # name, then the command; its output goes to a log that is shown only when it fails
  local name=$1; shift
  if "$@" > "$work/$name.log" 2>&1; then
    echo "pack-smoke: $name passed"; passed=$((passed + 1))
  else
    echo "pack-smoke: $name FAILED"; sed 's/^/    /' "$work/$name.log" | tail -40; failed=$((failed + 1))
  fi
}

pkgs="$work/packages"
check pack dotnet pack "$repo/Kiel.slnx" -c Release -o "$pkgs" -nologo -v quiet

# The app restores Kiel* from the pack folder only (package source mapping), everything else from the machine's
# NuGet cache or nuget.org, into a cache of its own so that an older Kiel 0.1.0 in ~/.nuget cannot stand in.
app="$work/app"
mkdir -p "$app"
cache=${NUGET_PACKAGES:-$HOME/.nuget/packages}
mkdir -p "$cache"
cat > "$app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="kiel" value="$pkgs" />
    <add key="cache" value="$cache" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="kiel"><package pattern="Kiel" /><package pattern="Kiel.*" /></packageSource>
    <packageSource key="cache"><package pattern="*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML
cat > "$app/QuickStart.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <RestorePackagesPath>$work/nuget-packages</RestorePackagesPath>
  </PropertyGroup>
</Project>
XML
# The README's first block marked "docs-test: run", exactly as a user would paste it.
awk '/<!-- docs-test: run -->/ { armed = 1; next }
     armed && /^```csharp/ { inside = 1; next }
     inside && /^```/ { exit }
     inside { print }' "$repo/README.md" > "$app/Program.cs"
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo/Directory.Build.props" | head -1)
quick_start() {
  [ -s "$app/Program.cs" ] || { echo "no quick start found in README.md"; return 1; }
  (cd "$app" && dotnet add package Kiel --version "$version" --no-restore && dotnet add package Kiel.Testing --version "$version" --no-restore \
    && dotnet build -c Release -nologo -v quiet) || return 1
  local out
  out=$(cd "$app" && timeout 180 dotnet bin/Release/net10.0/QuickStart.dll) || { echo "$out"; return 1; }
  echo "$out"
  # Five records written and five read back.
  [ "$(grep -c 'written to' <<< "$out")" -eq 5 ] && [ "$(grep -c 'partition .*, offset ' <<< "$out")" -eq 5 ]
}
check quick-start quick_start

tool_install() {
  dotnet tool install Kiel.Cli --version "$version" --tool-path "$work/tool" --configfile "$app/nuget.config" || return 1
  local out
  out=$("$work/tool/kiel" --version) || return 1
  echo "kiel --version: $out"
  [[ "$out" == "$version"* ]] || return 1
  "$work/tool/kiel" --help | grep -q '^  kiel \[command\] \[options\]'
}
check tool tool_install

echo "pack-smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
