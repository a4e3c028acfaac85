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

# Install PostgreSQL 15, its server headers, the GSSAPI headers that the
# server's libpq-be.h includes, and IPC::Run, if any is missing.
sf_ensure_packages()
{
	if [ -x "$PG_CONFIG" ] &&
		[ -f "$("$PG_CONFIG" --pgxs 2>/dev/null)" ] &&
		[ -f /usr/include/gssapi/gssapi.h ] &&
		perl -MIPC::Run -e 1 2>/dev/null; then
		return
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "PostgreSQL 15 server headers, GSSAPI headers or IPC::Run are missing; run this as root, or:" >&2
		echo "  sudo apt-get install postgresql-15 postgresql-server-dev-15 libipc-run-perl" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y postgresql-15 postgresql-server-dev-15 libipc-run-perl libkrb5-dev
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
		tar -C "$SF_SOURCE" --exclude=.git -cf - . | tar -C "$SF_BUILD" -xf -
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
