# Run one of our scripts against another PostgreSQL major, in a Debian
# chroot built from Debian's own packages.  Sourced by scripts/test and
# scripts/demo, not run.
#
# The host is Debian 12 (bookworm), which ships PostgreSQL 15.  Other majors
# come from other suites of the same mirror (see
# ../shared/reference/multiversion.md): 17 from trixie, 18 from sid, 19 from
# experimental on top of sid.  16 is in no Debian suite, so it cannot be
# built or tested here.
#
# sf_in_chroot VERSION SCRIPT [ARGS...] builds a minimal chroot, copies the
# source tree into it and runs SCRIPT there as root with PG_CONFIG pointing
# at that major; the script installs the packages it needs, as it does on
# the host.  The chroot is unmounted and removed on every exit path.  With
# SF_CHROOT_CACHE set to a directory, the prepared chroot is kept there as a
# tarball and reused by later runs (for development; CI builds it afresh).

SF_CHROOT_DIR=

# The suite that ships PostgreSQL VERSION, and the apt target release to
# install it from (empty: the suite's own).
sf_chroot_suite()
{
	case "$1" in
		17) echo "trixie" ;;
		18) echo "sid" ;;
		19) echo "sid experimental" ;;
		*)
			echo "PostgreSQL $1 is not supported: use 15 (the host), 17, 18 or 19" >&2
			return 1
			;;
	esac
}

# The Debian mirror the host's apt already uses; never a hard-coded host.
sf_chroot_mirror()
{
	local uri
	uri=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/* *$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
	[ -n "$uri" ] || uri=$(sed -n 's/^deb  *\(\[[^]]*\]  *\)\{0,1\}\(http[^ ]*\/debian\)\/* .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
	[ -n "$uri" ] || { echo "no Debian mirror found in /etc/apt" >&2; return 1; }
	echo "$uri"
}

sf_chroot_mount()
{
	mount -t proc proc "$SF_CHROOT_DIR/proc"
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$SF_CHROOT_DIR/dev/pts"
	mount -t tmpfs -o mode=1777 shm "$SF_CHROOT_DIR/dev/shm"
}

# Stop what still runs in the chroot (servers of an interrupted test), then
# unmount and remove it.  Safe to call twice, and on a half-built chroot.
sf_chroot_remove()
{
	[ -n "$SF_CHROOT_DIR" ] && [ -d "$SF_CHROOT_DIR" ] || return 0
	local m p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$SF_CHROOT_DIR" ] &&
			kill -9 "${p#/proc/}" 2>/dev/null
	done
	for m in dev/shm dev/pts proc sys; do
		mountpoint -q "$SF_CHROOT_DIR/$m" && umount -l "$SF_CHROOT_DIR/$m"
	done
	rm -rf --one-file-system "$SF_CHROOT_DIR"
	SF_CHROOT_DIR=
}

# Run a command inside the chroot with a clean environment: a host locale
# the chroot lacks would make initdb fail.
sf_chroot_run()
{
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
		DEBIAN_FRONTEND=noninteractive "$@" chroot "$SF_CHROOT_DIR" "${SF_CHROOT_CMD[@]}"
}

# Build a minimal chroot of the suite that ships PostgreSQL $1, with apt set
# up to install that major, and mounted.  The packages themselves are installed by the
# script run inside (sf_ensure_packages), as on the host.
sf_chroot_create()
{
	local version=$1 spec suite release mirror
	spec=$(sf_chroot_suite "$version")
	read -r suite release <<<"$spec"
	mirror=$(sf_chroot_mirror)
	SF_CHROOT_DIR=$(mktemp -d /var/tmp/slot_failover-pg"$version".XXXXXX)
	chmod 755 "$SF_CHROOT_DIR"

	if [ -n "${SF_CHROOT_CACHE:-}" ] && [ -f "$SF_CHROOT_CACHE/pg$version.tar" ]; then
		tar -C "$SF_CHROOT_DIR" -xpf "$SF_CHROOT_CACHE/pg$version.tar"
		sf_chroot_mount
		return
	fi

	command -v debootstrap >/dev/null ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null
	# bookworm's debootstrap has no script for forky; sid's serves
	debootstrap --variant=minbase "${suite}" "$SF_CHROOT_DIR" "$mirror" >/dev/null ||
		{ echo "debootstrap of $suite failed" >&2; return 1; }

	# no package may start a server; the test suite starts its own
	printf '#!/bin/sh\nexit 101\n' >"$SF_CHROOT_DIR/usr/sbin/policy-rc.d"
	chmod 755 "$SF_CHROOT_DIR/usr/sbin/policy-rc.d"
	# trixie-updates' and sid's Release files expire
	echo 'Acquire::Check-Valid-Until "false";' >"$SF_CHROOT_DIR/etc/apt/apt.conf.d/99slot-failover"
	{
		echo "deb $mirror $suite main"
		if [ "$release" = experimental ]; then
			echo "deb $mirror experimental main"
		fi
	} >"$SF_CHROOT_DIR/etc/apt/sources.list"
	sf_chroot_mount
	SF_CHROOT_CMD=(apt-get update -q)
	sf_chroot_run >/dev/null

	if [ -n "${SF_CHROOT_CACHE:-}" ]; then
		mkdir -p "$SF_CHROOT_CACHE"
		# the packages too, so that a cached chroot starts at once
		SF_CHROOT_CMD=(bash -c "apt-get install -y -q $(sf_packages "$version" "$release") >/dev/null && apt-get clean")
		sf_chroot_run
		tar -C "$SF_CHROOT_DIR" --one-file-system -cpf "$SF_CHROOT_CACHE/pg$version.tar" .
	fi
}

# Run SCRIPT [ARGS...] of this tree inside a fresh chroot for PostgreSQL
# VERSION, as root there; return its exit status.  The chroot is removed
# afterwards, whatever happens.
sf_in_chroot()
{
	local version=$1 script=$2 status=0 spec release
	shift 2
	spec=$(sf_chroot_suite "$version")
	read -r _ release <<<"$spec"
	if [ "$(id -u)" != 0 ]; then
		echo "testing PostgreSQL $version needs a chroot: run this as root" >&2
		return 1
	fi
	trap 'sf_chroot_remove' EXIT
	trap 'sf_chroot_remove; exit 130' INT TERM
	sf_chroot_create "$version"
	mkdir -p "$SF_CHROOT_DIR/src/slot_failover"
	tar -C "$SF_SOURCE" --exclude=.git --exclude=tmp_check --exclude='*.o' --exclude='*.bc' \
		--exclude='*.so' -cf - . | tar -C "$SF_CHROOT_DIR/src/slot_failover" -xf -
	SF_CHROOT_CMD=(/src/slot_failover/scripts/"$script" "$@")
	sf_chroot_run PG_CONFIG=/usr/lib/postgresql/"$version"/bin/pg_config \
		SF_APT_RELEASE="$release" || status=$?
	sf_chroot_remove
	trap - EXIT INT TERM
	return "$status"
}
