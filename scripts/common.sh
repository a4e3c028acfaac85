# Shared by scripts/install and scripts/test; sourced, not run.
#
# Root installs what is missing and builds in a copy of the tree owned by
# an unprivileged user, since PostgreSQL refuses to run as root; only
# "make install" runs as root.  A normal user builds in place and needs
# sudo for "make install".

set -euo pipefail

SF_SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# not "slot_failover": as the test clusters' superuser, "$user" in
# search_path would then find the extension's schema
SF_USER=${SF_USER:-sf_tester}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

# The major version PG_CONFIG belongs to (15 on the host, another inside a
# chroot of scripts/chroot.sh).
SF_PG_VERSION=$(basename "$(dirname "$(dirname "$PG_CONFIG")")")

# The Debian packages the build and the tests need for major $1: the server,
# its headers, the GSSAPI headers that libpq-be.h includes (no package the
# headers depend on provides them in trixie and sid), IPC::Run for the TAP
# tests, and the compiler.  The server and headers come from release $2 if
# given (experimental, for 19), with the libpq they need, the rest from the
# suite: experimental's perl, for one, cannot be installed beside sid's.
sf_packages()
{
	local from=${2:+/$2}
	echo "postgresql-$1$from postgresql-server-dev-$1$from ${2:+libpq5$from libpq-dev$from}" \
		"libipc-run-perl libkrb5-dev make gcc"
}

# Install what sf_packages names, if any of it is missing.  SF_APT_RELEASE
# names the release to take PostgreSQL from (experimental, for 19).
sf_ensure_packages()
{
	if [ -x "$PG_CONFIG" ] &&
		[ -f "$("$PG_CONFIG" --pgxs 2>/dev/null)" ] &&
		[ -f /usr/include/gssapi/gssapi.h ] &&
		perl -MIPC::Run -e 1 2>/dev/null; then
		return
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "PostgreSQL $SF_PG_VERSION server headers, GSSAPI headers or IPC::Run are missing; run this as root, or:" >&2
		echo "  sudo apt-get install $(sf_packages "$SF_PG_VERSION")" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# shellcheck disable=SC2046
	apt-get install -y $(sf_packages "$SF_PG_VERSION" "${SF_APT_RELEASE:-}")
}

# Set SF_BUILD to a directory the unprivileged user may build and test in,
# and build there.
sf_build()
{
	if [ "$(id -u)" = 0 ]; then
		id -u "$SF_USER" >/dev/null 2>&1 ||
			useradd --system --create-home --shell /bin/bash "$SF_USER"
		SF_BUILD=$(mktemp -d /tmp/slot_failover.XXXXXX)
		trap 'rm -rf "$SF_BUILD"' EXIT
		# with .git, if any: t/027_update.pl builds 1.0 from the history
		tar -C "$SF_SOURCE" -cf - . | tar -C "$SF_BUILD" -xf -
		chown -R "$SF_USER" "$SF_BUILD"
		sf_as_user make -C "$SF_BUILD" clean >/dev/null
		sf_as_user make -C "$SF_BUILD" PG_CONFIG="$PG_CONFIG"
	else
		SF_BUILD=$SF_SOURCE
		make -C "$SF_BUILD" PG_CONFIG="$PG_CONFIG"
	fi
}

# Run a command as the unprivileged user (as ourselves if we are not root).
sf_as_user()
{
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$SF_USER" -- "$@"
	else
		"$@"
	fi
}

# make install, as root.
sf_install()
{
	if [ "$(id -u)" = 0 ]; then
		make -C "$SF_BUILD" PG_CONFIG="$PG_CONFIG" install
	else
		sudo make -C "$SF_BUILD" PG_CONFIG="$PG_CONFIG" install
	fi
}
