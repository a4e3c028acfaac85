/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *		Carry a logical slot's serialized decoding snapshot to the standbys.
 *
 * A logical slot restarts decoding at its restart_lsn, which is where the
 * primary serialized a decoding snapshot into
 * pg_logical/snapshots/<lsn>.snap (snapbuild.c).  Decoding that starts
 * there restores the file and is consistent at once.  Those files are not
 * WAL-logged, so a standby does not have them: after promotion, decoding
 * from a copy would have to build a snapshot from scratch, and while
 * transactions that were running at restart_lsn are still open it is not
 * consistent, so it skips transactions that commit before it is, even
 * those after the slot's confirmed position.  That is silent data loss.
 *
 * So the primary stores the file's contents in the slot's row (column
 * snapshot) whenever restart_lsn moves, and the standby writes them back
 * under the same name before it moves its copy's restart_lsn there, or
 * before it makes ready a copy already there.  The
 * format is snapbuild.c's own, with its magic, version and checksum, which
 * it verifies when it reads the file; both nodes run the same major
 * version, as physical replication requires.
 *
 * On a standby of PostgreSQL 15 nothing else writes these files, and a
 * restartpoint removes only files older than every logical slot's
 * restart_lsn, so a file written before the copy moves there stays.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  snapshot.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"

#include "slot_failover.h"

static void sf_snapshot_path(char *path, XLogRecPtr lsn);

/*
 * snapbuild.c's file name for the snapshot serialized at lsn.  path must
 * hold MAXPGPATH bytes.
 */
static void
sf_snapshot_path(char *path, XLogRecPtr lsn)
{
	snprintf(path, MAXPGPATH, "pg_logical/snapshots/%X-%X.snap",
			 LSN_FORMAT_ARGS(lsn));
}

/*
 * The snapshot the primary serialized at lsn, or NULL if there is none
 * (restart_lsn is not always such a point, and checkpoints remove files
 * that no slot needs any more).
 */
bytea *
sf_snapshot_read(XLogRecPtr lsn)
{
	char		path[MAXPGPATH];

	sf_snapshot_path(path, lsn);
	return sf_file_read(path);
}

/*
 * Durably write the snapshot serialized at lsn on the primary, unless this
 * node already has it.
 */
void
sf_snapshot_write(XLogRecPtr lsn, bytea *data)
{
	char		path[MAXPGPATH];
	struct stat st;

	sf_snapshot_path(path, lsn);
	if (stat(path, &st) == 0)
		return;
	sf_durable_write(path, VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data));
}
