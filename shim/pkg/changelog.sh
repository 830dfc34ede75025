#!/bin/sh
# changelog.sh VERSION EPOCH: debian/changelog for a package of VERSION,
# dated EPOCH (the last commit's time: the same tree gives the same package).
# What changed is in NEWS.md, installed as the upstream changelog.
set -eu
version=$1 epoch=$2
maintainer=$(sed -n 's/^Maintainer: //p' "$(dirname "$0")/debian/control")
cat <<CHANGELOG
noselfconn ($version) unstable; urgency=medium

  * Release $version: see NEWS.md.

 -- $maintainer  $(LC_ALL=C date -u -R -d "@$epoch")
CHANGELOG
