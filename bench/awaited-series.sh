#!/usr/bin/env bash
# The awaited 100 B series (one record at a time, each awaited; 6 partitions): bench/series.sh awaited 100, which says
# what the series does and checks.
#
#   bash bench/awaited-series.sh ROUNDS LINGER_MS [CLIENT[:ENV=VALUE]...]
exec bash "$(cd "$(dirname "$0")" && pwd)/series.sh" awaited 100 "$@"
