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
 * A mark follows its transaction.  mark() and unmark() do not replace the
 * marker: they append an entry for their (sub)transaction, and the file
 * reads as its base identity changed by the entries whose transaction is
 * visible, as a heap tuple does (this transaction, or a committed one;
 * running and aborted ones are not).  So a COMMIT, a ROLLBACK, a rolled
 * back savepoint or exception block, a refused PREPARE and a crash at any
 * point all leave the marker saying what the committed rows say, with no
 * work at transaction end.  The worker settles the file later (folds
 * committed entries into the base, drops aborted ones), at the latest at
 * its next start, so that an entry's xid never outlives its commit log.
 *
 * The file holds lines of text: first the base, "<identity>[ waiting]"
 * ("waiting" for a copy on a standby that is not ready yet; 0 when the
 * slot was not marked before the entries), then any entries,
 * "<identity> xid <xid>", oldest first.  1.0 wrote the base line alone.
 *
 * Identity -1 (SF_UNMARKED) is an explicit unmark(): the slot is not
 * marked, and slot_failover.auto_mark must not mark it (primary.c).  An
 * unmark() writes it as an entry, so that it follows its transaction as a
 * mark does, and settling keeps it as the base: the file, and the memory
 * of the unmark with it, lives exactly as long as this incarnation of the
 * slot.  It needs no replication: a standby has no copy of a slot that is
 * not marked.  Readers other than sf_marker_may_auto_mark() see it as 0.
 *
 * Locking: on a primary, every writer (mark(), unmark(), the worker's
 * settling) holds markers_lock, this file's own LWLock, exclusively, so
 * that no change is lost between reading and writing a file, and
 * ReplicationSlotAllocationLock in shared mode, which keeps the slot's
 * directory from being dropped or created meanwhile (sf_marker_lock()).
 * Entries of two transactions never interleave: mark() and unmark() lock
 * the slot's row first, and the row lock is held until after commit.  On a
 * standby only the worker writes markers, of copies it has acquired or
 * holds.  Writes are durable: temporary file, fsync, rename, fsync of the
 * directory; readers see the old file or the new one.  An entry is written
 * only once the WAL that names its xid is flushed, so that a crash cannot
 * hand the xid out again.
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

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "storage/fd.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"

#include "compat.h"
#include "slot_failover.h"

#define SF_MARKER_FILE		"slot_failover.id"
#define SF_MARKERS_TRANCHE	"slot_failover markers"
#define SF_WAITING_WORD		"waiting"

/* the identity of an explicit unmark(), see the file header */
#define SF_UNMARKED				(-1)

/* at most this many entries; mark() refuses more in one transaction */
#define SF_MARKER_MAX_ENTRIES	32

/* An entry: the identity a (sub)transaction gave the slot; 0 unmarks. */
typedef struct MarkerEntry
{
	int64		identity;
	TransactionId xid;
} MarkerEntry;

/* A marker file, parsed. */
typedef struct Marker
{
	int64		base;			/* identity before the entries */
	bool		waiting;		/* a copy that is not ready yet */
	int			nentries;
	MarkerEntry entries[SF_MARKER_MAX_ENTRIES];
} Marker;

/* How an entry's transaction ended, as far as this process can see. */
typedef enum EntryFate
{
	ENTRY_VISIBLE,				/* this transaction's, or committed */
	ENTRY_PENDING,				/* another transaction's, still running */
	ENTRY_VOID					/* aborted, or lost in a crash */
} EntryFate;

static void sf_marker_path(char *path, const char *slot_name);
static bool sf_marker_load(const char *slot_name, Marker *marker,
						   bool *malformed);
static EntryFate sf_entry_fate(TransactionId xid);
static int64 sf_marker_resolve(const Marker *marker);
static bool sf_marker_compact(Marker *marker);
static void sf_marker_store(const char *slot_name, const Marker *marker);

/* serializes the changes of marker files on a primary */
static LWLock *markers_lock = NULL;

/*
 * Ask for our LWLock; from shmem_request_hook.
 */
void
sf_marker_shmem_request(void)
{
	RequestNamedLWLockTranche(SF_MARKERS_TRANCHE, 1);
}

/*
 * Find our LWLock; from shmem_startup_hook.
 */
void
sf_marker_shmem_init(void)
{
	markers_lock = &(GetNamedLWLockTranche(SF_MARKERS_TRANCHE))->lock;
}

/*
 * Take the locks under which markers change on a primary (see the file
 * header); sf_marker_unlock() releases them, as does transaction abort.
 */
void
sf_marker_lock(void)
{
	LWLockAcquire(markers_lock, LW_EXCLUSIVE);
	LWLockAcquire(ReplicationSlotAllocationLock, LW_SHARED);
}

void
sf_marker_unlock(void)
{
	LWLockRelease(ReplicationSlotAllocationLock);
	LWLockRelease(markers_lock);
}

/*
 * Path of the marker file of a slot.  path must hold MAXPGPATH bytes.
 */
static void
sf_marker_path(char *path, const char *slot_name)
{
	snprintf(path, MAXPGPATH, "pg_replslot/%s/%s", slot_name, SF_MARKER_FILE);
}

/*
 * Read and parse the slot's marker.  Returns false if it has none.  An
 * entry line we cannot parse (nobody but us writes these files) ends the
 * parse with a WARNING; *malformed (if not NULL) says so, and such a file is
 * never rewritten.  Errors are left to the caller's slot alone: they must
 * not stop a walsender or the worker's cycle for other slots.
 */
static bool
sf_marker_load(const char *slot_name, Marker *marker, bool *malformed)
{
	char		path[MAXPGPATH];
	bytea	   *content;
	char	   *buf;
	char	   *line;
	char	   *end;

	memset(marker, 0, sizeof(Marker));
	if (malformed)
		*malformed = false;
	sf_marker_path(path, slot_name);
	content = sf_file_read(path);
	if (content == NULL)
		return false;
	buf = VARDATA(content);

	marker->base = strtoi64(buf, &end, 10);
	marker->waiting = strncmp(end, " " SF_WAITING_WORD,
							  strlen(SF_WAITING_WORD) + 1) == 0;
	line = strchr(end, '\n');
	while (line != NULL && line[1] != '\0')
	{
		MarkerEntry *entry;
		unsigned long xid;

		if (marker->nentries >= SF_MARKER_MAX_ENTRIES)
			break;
		entry = &marker->entries[marker->nentries];
		entry->identity = strtoi64(line + 1, &end, 10);
		if (strncmp(end, " xid ", 5) != 0)
		{
			ereport(WARNING,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ignoring invalid line %d in file \"%s\"",
							marker->nentries + 2, path)));
			if (malformed)
				*malformed = true;
			break;
		}
		xid = strtoul(end + 5, &end, 10);
		entry->xid = (TransactionId) xid;
		marker->nentries++;
		line = strchr(end, '\n');
	}
	pfree(content);
	return true;
}

/*
 * Has the transaction that wrote an entry ended, and how?  In-progress is
 * asked before the commit log, as for heap tuples.
 *
 * An xid this cluster has not handed out yet can only come from a file
 * copied from elsewhere; it counts as aborted.  So does one whose status the
 * commit log no longer holds (XactTruncationLock keeps it there while we
 * look, as pg_xact_status() does): the worker settles every entry within a
 * naptime of its transaction's end, so this needs a worker that did not run
 * for hundreds of millions of transactions.
 */
static EntryFate
sf_entry_fate(TransactionId xid)
{
	bool		committed;

	if (TransactionIdIsCurrentTransactionId(xid))
		return ENTRY_VISIBLE;
	if (!TransactionIdPrecedes(xid, ReadNextTransactionId()))
		return ENTRY_VOID;
	if (TransactionIdIsInProgress(xid))
		return ENTRY_PENDING;

	LWLockAcquire(XactTruncationLock, LW_SHARED);
	committed = !TransactionIdPrecedes(xid, sf_oldest_clog_xid()) &&
		TransactionIdDidCommit(xid);
	LWLockRelease(XactTruncationLock);
	return committed ? ENTRY_VISIBLE : ENTRY_VOID;
}

/*
 * The identity the marker gives the slot now: its base, changed by each
 * visible entry in turn.
 */
static int64
sf_marker_resolve(const Marker *marker)
{
	int64		identity = marker->base;

	for (int i = 0; i < marker->nentries; i++)
		if (sf_entry_fate(marker->entries[i].xid) == ENTRY_VISIBLE)
			identity = marker->entries[i].identity;
	return identity;
}

/*
 * Fold the entries of committed transactions into the base and drop those
 * of aborted ones, keeping the entries of running transactions (this one's
 * included: it may still abort).  An entry after a kept one is kept too,
 * so that order is preserved.  Returns whether anything changed.
 */
static bool
sf_marker_compact(Marker *marker)
{
	int			kept = 0;
	int			n = marker->nentries;

	for (int i = 0; i < n; i++)
	{
		MarkerEntry entry = marker->entries[i];
		bool		mine = TransactionIdIsCurrentTransactionId(entry.xid);
		EntryFate	fate = mine ? ENTRY_PENDING : sf_entry_fate(entry.xid);

		if (fate == ENTRY_VOID)
			continue;
		if (fate == ENTRY_VISIBLE && kept == 0)
			marker->base = entry.identity;
		else
			marker->entries[kept++] = entry;
	}
	marker->nentries = kept;
	return kept != n;
}

/*
 * Write the marker durably, or remove it if it names nothing.
 */
static void
sf_marker_store(const char *slot_name, const Marker *marker)
{
	char		path[MAXPGPATH];
	char		buf[64 * (SF_MARKER_MAX_ENTRIES + 1)];
	int			len;

	sf_marker_path(path, slot_name);
	if (marker->base == 0 && marker->nentries == 0)
	{
		char		dir[MAXPGPATH];

		if (unlink(path) != 0 && errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", path)));
		snprintf(dir, MAXPGPATH, "pg_replslot/%s", slot_name);
		fsync_fname(dir, true);
		return;
	}

	len = snprintf(buf, sizeof(buf), INT64_FORMAT "%s\n", marker->base,
				   marker->waiting ? " " SF_WAITING_WORD : "");
	for (int i = 0; i < marker->nentries; i++)
		len += snprintf(buf + len, sizeof(buf) - len, INT64_FORMAT " xid %u\n",
						marker->entries[i].identity, marker->entries[i].xid);
	sf_durable_write(path, buf, len);
}

/*
 * The identity the slot's marker gives it now, or 0 if it has none (or its
 * mark was undone); *waiting (if not NULL) says whether it names a copy
 * that is not ready yet.
 */
int64
sf_marker_read(const char *slot_name, bool *waiting)
{
	Marker		marker;
	bool		found = sf_marker_load(slot_name, &marker, NULL);

	if (waiting)
		*waiting = found && marker.waiting;
	return found ? Max(sf_marker_resolve(&marker), 0) : 0;
}

/*
 * May slot_failover.auto_mark mark the slot now?  Not if it was unmarked
 * explicitly, not while a transaction that marked or unmarked it is still
 * running (its outcome decides), and not if its marker is unreadable.  A
 * slot the marker says is marked may be: its row is checked in the
 * marking transaction (a marker left behind by DROP EXTENSION names no
 * row).
 */
bool
sf_marker_may_auto_mark(const char *slot_name)
{
	Marker		marker;
	bool		malformed;

	if (!sf_marker_load(slot_name, &marker, &malformed))
		return true;

	/*
	 * A "waiting" marker is a copy that was not ready when this node was
	 * promoted and could not be dropped: the worker deletes the row of a
	 * slot marked over it, so marking it would write in every cycle.
	 */
	if (malformed || marker.waiting)
		return false;
	for (int i = 0; i < marker.nentries; i++)
		if (sf_entry_fate(marker.entries[i].xid) == ENTRY_PENDING)
			return false;
	return sf_marker_resolve(&marker) != SF_UNMARKED;
}

/*
 * Is the slot marked now?  (A mark of a running transaction is not seen
 * by others until it commits.)
 */
bool
sf_marker_exists(const char *slot_name)
{
	return sf_marker_read(slot_name, NULL) != 0;
}

/*
 * Does the slot's directory hold a marker file at all?  One stat(), for
 * the primary's cycle: a slot created again under the same name has none.
 */
bool
sf_marker_present(const char *slot_name)
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
 * Durably write the marker of a copy on a standby: its identity alone.
 * Only the standby's worker writes these, for copies it holds.
 */
void
sf_marker_write(const char *slot_name, int64 identity, bool waiting)
{
	Marker		marker;

	memset(&marker, 0, sizeof(Marker));
	marker.base = identity;
	marker.waiting = waiting;
	sf_marker_store(slot_name, &marker);
}

/*
 * Record, for the current (sub)transaction, that the slot is now marked
 * with identity, or explicitly unmarked (0, recorded as SF_UNMARKED).
 * Caller holds sf_marker_lock(), the slot exists, and the current
 * transaction has an xid (it wrote the slot's row).
 */
void
sf_marker_record(const char *slot_name, int64 identity)
{
	Marker		marker;
	bool		malformed;

	Assert(LWLockHeldByMeInMode(markers_lock, LW_EXCLUSIVE));

	(void) sf_marker_load(slot_name, &marker, &malformed);
	if (malformed)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("marker file of replication slot \"%s\" is corrupted",
						slot_name),
				 errhint("Drop the slot, or remove the file \"%s\" in its directory and mark it again.",
						 SF_MARKER_FILE)));
	(void) sf_marker_compact(&marker);
	if (marker.nentries >= SF_MARKER_MAX_ENTRIES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many marks and unmarks of replication slot \"%s\" in one transaction",
						slot_name)));
	marker.entries[marker.nentries].identity = identity != 0 ? identity : SF_UNMARKED;
	marker.entries[marker.nentries].xid = GetCurrentTransactionId();
	marker.nentries++;

	/*
	 * WAL before the file, as WAL before data: once the WAL naming our xid
	 * (the row we wrote) is flushed, a crash cannot make the xid unknown
	 * and hand it out again to a transaction that could commit it.
	 */
	XLogFlush(XactLastRecEnd);
	sf_marker_store(slot_name, &marker);
}

/*
 * Fold the entries of ended transactions into the slot's marker, so that
 * no xid outlives its commit log.  Returns the xid of the first entry
 * whose transaction had ended, or InvalidTransactionId if nothing changed.
 * A file without entries, the common case, is only read.
 */
TransactionId
sf_marker_settle(const char *slot_name)
{
	Marker		marker;
	bool		malformed;
	TransactionId first = InvalidTransactionId;

	if (!sf_marker_load(slot_name, &marker, NULL) || marker.nentries == 0)
		return InvalidTransactionId;

	sf_marker_lock();
	if (sf_marker_load(slot_name, &marker, &malformed) &&
		marker.nentries > 0 && !malformed)
	{
		first = marker.entries[0].xid;
		if (sf_marker_compact(&marker))
			sf_marker_store(slot_name, &marker);
		else
			first = InvalidTransactionId;
	}
	sf_marker_unlock();
	return first;
}
