#!/bin/sh
# Set-up for the delivery benchmark's ejabberd baseline (bench/ejabberd-server.js): installs Debian's ejabberd
# package (bookworm: 23.01) when it is missing. The package's own service is not used (a container's policy-rc.d
# keeps it from starting; elsewhere it is stopped and disabled here): the benchmark starts its own ejabberd with a
# private, loopback-only configuration, spool and log directory, and stops it afterwards. Needs root.
set -eu
if ! command -v ejabberdctl >/dev/null 2>&1 && [ ! -x /usr/sbin/ejabberdctl ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ejabberd
fi
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet ejabberd 2>/dev/null; then
  systemctl stop ejabberd
  systemctl disable ejabberd
fi
dpkg-query -W -f='ejabberd ${Version}\n' ejabberd
