/*-------------------------------------------------------------------------
 *
 * marker.c
 *		The marker file that ties a replication slot to a row of
 *		slot_failover.slots.
 *
 * A row names one incarnation of a slot by a random identity.  The same
 * identity is written into pg_replslot/<slot>/slot_failover.id: by mark()
 * on a primary, and by the standby's worker when it creates a copy.
 * PostgreSQL removes the directory with the slot and never copies it into a
 * base backup or through pg_rewind, so the marker lives exactly as long as
 * that incarnation of the slot: a slot created again under the same name
 * has none.  Every slot with a marker belongs to slot_failover; a standby
 * never touches a slot without one.
 *
 * The file holds one line: the identity, followed by " waiting" for a copy
 * on a standby that is not ready yet.
 *
 * Callers that write or remove a marker hold ReplicationSlotAllocationLock
 * (shared is enough), which creation and removal of slot directories take
 * exclusively, so a marker never lands in the directory of a slot being
 * dropped or created.  Writes are durable: temporary file, fsync, rename,
 * fsync of the directory.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  marker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"

#include "slot_failover.h"

#define SF_MARKER_FILE		"slot_failover.id"
#define SF_WAITING_WORD		"waiting"

static void sf_marker_path(char *path, const char *slot_name);

/*
 * Path of the marker file of a slot.  path must hold MAXPGPATH bytes.
 */
static void
sf_marker_path(char *path, const char *slot_name)
{
	snprintf(path, MAXPGPATH, "pg_replslot/%s/%s", slot_name, SF_MARKER_FILE);
}

/*
 * Read the slot's marker.  Returns its identity, or 0 if the slot has no
 * marker; *waiting (if not NULL) says whether it names a copy that is not
 * ready yet.
 */
int64
sf_marker_read(const char *slot_name, bool *waiting)
{
	char		path[MAXPGPATH];
	char		buf[64];
	char	   *end;
	int			fd;
	int			len;
	int64		identity;

	if (waiting)
		*waiting = false;

	sf_marker_path(path, slot_name);
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open file \"%s\": %m", path)));
		return 0;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	if (len < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
	CloseTransientFile(fd);

	buf[len] = '\0';
	identity = strtoi64(buf, &end, 10);
	if (waiting)
		*waiting = strncmp(end, " " SF_WAITING_WORD, strlen(SF_WAITING_WORD) + 1) == 0;
	return identity;
}

/*
 * Durably write the slot's marker.  Caller holds ReplicationSlotAllocationLock.
 */
void
sf_marker_write(const char *slot_name, int64 identity, bool waiting)
{
	char		path[MAXPGPATH];
	char		buf[64];
	int			len;

	sf_marker_path(path, slot_name);
	len = snprintf(buf, sizeof(buf), INT64_FORMAT "%s\n", identity,
				   waiting ? " " SF_WAITING_WORD : "");
	sf_durable_write(path, buf, len);
}

/*
 * Replace a small file durably: write a temporary file beside it, fsync,
 * rename, fsync the directory.  A crash leaves the old file or the new one.
 */
void
sf_durable_write(const char *path, const char *data, int len)
{
	char		tmppath[MAXPGPATH];
	int			fd;

	snprintf(tmppath, MAXPGPATH, "%s.%d.tmp", path, MyProcPid);
	fd = OpenTransientFile(tmppath, O_CREAT | O_TRUNC | O_WRONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmppath)));
	errno = 0;
	if (write(fd, data, len) != len)
	{
		if (errno == 0)
			errno = ENOSPC;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmppath)));
	}
	if (CloseTransientFile(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", tmppath)));

	/* fsyncs the file, renames it, and fsyncs the directory */
	(void) durable_rename(tmppath, path, ERROR);
}

/*
 * Does the slot's directory hold a marker?  Cheaper than reading it.
 */
bool
sf_marker_exists(const char *slot_name)
{
	char		path[MAXPGPATH];
	struct stat st;

	sf_marker_path(path, slot_name);
	if (stat(path, &st) == 0)
		return true;
	if (errno != ENOENT)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	return false;
}

/*
 * Remove the slot's marker if it still names that identity: the slot no
 * longer belongs to slot_failover.  Runs at commit of unmark(), so it
 * reports trouble at LOG and never fails.
 */
void
sf_marker_remove(const char *slot_name, int64 identity)
{
	char		path[MAXPGPATH];
	char		dir[MAXPGPATH];
	char		buf[64];
	int			fd;
	int			len;

	sf_marker_path(path, slot_name);
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		return;
	len = read(fd, buf, sizeof(buf) - 1);
	CloseTransientFile(fd);
	if (len <= 0)
		return;
	buf[len] = '\0';
	if (strtoi64(buf, NULL, 10) != identity)
		return;

	if (unlink(path) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", path)));
		return;
	}
	snprintf(dir, MAXPGPATH, "pg_replslot/%s", slot_name);
	fsync_fname_ext(dir, true, false, LOG);
}
