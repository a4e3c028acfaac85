/*-------------------------------------------------------------------------
 *
 * status.c
 *		The board where the worker shows the state of each row, for the
 *		view slot_failover.status.
 *
 * On a standby the worker publishes, after each cycle, what it found for
 * every row: its copy's state (ready, waiting, conflict, error), why, and
 * since when.  On a primary it publishes the rows it could not write
 * because another transaction holds them.  Backends read the board through
 * slot_failover.copy_status().
 *
 * The board lives in the main shared memory segment, sized at startup for
 * twice max_replication_slots entries (rows that cannot get a slot have a
 * state too).  Its LWLock protects n and the entries; the worker replaces
 * them all at once.  sf_status_count() reads n without the lock, for hints.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  status.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "slot_failover.h"

#define SF_STATUS_TRANCHE	"slot_failover status"

/* The board, in shared memory. */
typedef struct StatusBoard
{
	LWLock	   *lock;			/* protects n and entries */
	int			max;			/* room for this many entries */
	int			n;				/* entries in use */
	SlotFailoverCopyStatus entries[FLEXIBLE_ARRAY_MEMBER];
} StatusBoard;

static StatusBoard *board = NULL;

/*
 * Shared memory the board needs.
 */
static Size
sf_status_shmem_size(void)
{
	return add_size(offsetof(StatusBoard, entries),
					mul_size(sizeof(SlotFailoverCopyStatus),
							 2 * max_replication_slots));
}

/*
 * Ask for the board's shared memory and lock; from shmem_request_hook.
 */
void
sf_status_shmem_request(void)
{
	RequestAddinShmemSpace(sf_status_shmem_size());
	RequestNamedLWLockTranche(SF_STATUS_TRANCHE, 1);
}

/*
 * Create or attach to the board; from shmem_startup_hook, which holds
 * AddinShmemInitLock.
 */
void
sf_status_shmem_init(void)
{
	bool		found;

	board = ShmemInitStruct("slot_failover status", sf_status_shmem_size(),
							&found);
	if (!found)
	{
		board->lock = &(GetNamedLWLockTranche(SF_STATUS_TRANCHE))->lock;
		board->max = 2 * max_replication_slots;
		board->n = 0;
	}
}

/*
 * Replace what the board shows with these n entries (as many as fit).
 */
void
sf_status_publish(const SlotFailoverCopyStatus *entries, int n)
{
	LWLockAcquire(board->lock, LW_EXCLUSIVE);
	board->n = Min(n, board->max);
	memcpy(board->entries, entries, sizeof(SlotFailoverCopyStatus) * board->n);
	LWLockRelease(board->lock);
}

/*
 * A palloc'd copy of what the board shows; returns the number of entries.
 */
int
sf_status_read(SlotFailoverCopyStatus **entries)
{
	int			n;

	LWLockAcquire(board->lock, LW_SHARED);
	n = board->n;
	*entries = palloc(sizeof(SlotFailoverCopyStatus) * Max(n, 1));
	memcpy(*entries, board->entries, sizeof(SlotFailoverCopyStatus) * n);
	LWLockRelease(board->lock);
	return n;
}

/*
 * How many entries the board shows, read without the lock: only for hints.
 */
int
sf_status_count(void)
{
	return board != NULL ? board->n : 0;
}
