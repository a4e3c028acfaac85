/*-------------------------------------------------------------------------
 *
 * files.c
 *		Reading and durable replacement of the small files slot_failover
 *		keeps beside PostgreSQL's own: marker files (marker.c) and decoding
 *		snapshots (snapshot.c).
 *
 * A file is written under a temporary name, fsynced, renamed over the old
 * one, and its directory fsynced, as PostgreSQL does for its state files,
 * so that a crash leaves the old file or the new one, never a mix.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  files.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"

#include "slot_failover.h"

/*
 * Replace a small file durably.  Errors are ERRORs: callers write before
 * anything depends on the file.
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
 * The content of a small file as a palloc'd bytea, followed by a NUL byte
 * (not counted in its length) so that text can be parsed in place; NULL if
 * the file does not exist.
 */
bytea *
sf_file_read(const char *path)
{
	struct stat st;
	bytea	   *data;
	int			fd;
	ssize_t		len;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open file \"%s\": %m", path)));
		return NULL;
	}
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));

	data = palloc(VARHDRSZ + st.st_size + 1);
	len = read(fd, VARDATA(data), st.st_size);
	if (len != st.st_size)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": read %zd of %zu",
						path, len, (size_t) st.st_size)));
	CloseTransientFile(fd);

	VARDATA(data)[len] = '\0';
	SET_VARSIZE(data, VARHDRSZ + len);
	return data;
}
