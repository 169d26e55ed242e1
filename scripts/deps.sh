#!/usr/bin/env bash
# Makes sure the machine has what Kiel's demo and tests need, and installs it when run as root.
# Sourced by ./kiel and ./test.sh; safe to run more than once.
KIEL_APT_PACKAGES="libzookeeper-java openjdk-17-jre-headless kcat python3-kafka python3-kazoo python3-confluent-kafka tmux"

kiel_missing_deps() {
  local missing=()
  [ -f /usr/share/java/zookeeper.jar ] || missing+=(libzookeeper-java)
  command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  command -v tmux >/dev/null 2>&1 || missing+=(tmux)
  if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || missing+=(python3-kafka)
    /usr/bin/python3 -c 'import kazoo' >/dev/null 2>&1 || missing+=(python3-kazoo)
    /usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing+=(python3-confluent-kafka)
  else
    missing+=(python3-kafka python3-kazoo python3-confluent-kafka)
  fi
  echo "${missing[*]}"
}

kiel_ensure_deps() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "kiel: the .NET 10 SDK is required (dotnet was not found on PATH). Install it, then run this again." >&2
    return 1
  fi
  local missing
  missing=$(kiel_missing_deps)
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "kiel: installing $KIEL_APT_PACKAGES" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $KIEL_APT_PACKAGES >/dev/null
    missing=$(kiel_missing_deps)
    if [ -n "$missing" ]; then
      echo "kiel: still missing after apt-get install: $missing" >&2
      return 1
    fi
  else
    echo "kiel: missing: $missing" >&2
    echo "kiel: install them as root with:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends $KIEL_APT_PACKAGES" >&2
    return 1
  fi
}
