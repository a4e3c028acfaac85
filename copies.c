/*-------------------------------------------------------------------------
 *
 * copies.c
 *		The copies of the primary's slots on a standby: creating, advancing,
 *		holding, releasing and dropping them, and the database locks that
 *		let replay go on.
 *
 * standby.c decides what each row's copy needs; this file does it to the
 * slots.  A copy follows its row as PostgreSQL 17's synchronized slots
 * follow the primary's (PostgreSQL 17's replication/logical/slotsync.c):
 *
 *	- A new copy first reserves what is safe on this standby: WAL from the
 *	  last restartpoint's redo pointer (ReplicationSlotReserveWal), and for a
 *	  logical copy the oldest catalog xmin still safe here
 *	  (GetOldestSafeDecodingTransactionId).  It is persisted at once, with a
 *	  marker saying "waiting" (marker.c), so that a restart keeps the
 *	  reservation.
 *	- A copy made ready takes the row's positions, and its marker loses the
 *	  word "waiting".
 *	- A logical copy also needs the decoding snapshot the primary serialized
 *	  at the row's restart_lsn, which the row carries (snapshot.c); it is
 *	  written here before the copy's restart_lsn moves there, or before a
 *	  copy already there becomes ready.  A ready copy whose row has no
 *	  snapshot for a new restart_lsn keeps its old one.
 *	- A copy only moves forward.
 *	- A logical copy has the row's two_phase and two_phase_at, saved before
 *	  it is reported ready with them: decoding a COMMIT PREPARED after
 *	  failover must know whether the client already had the PREPARE.
 *	- Only a slot with a marker is ours; nothing here touches another.
 *
 * Protection: the worker holds every copy, that is, marks it active for
 * itself without acquiring it (compat.h's SfHolder: its PID, or on 19 its
 * ProcNumber; inactive_since 0), so that nobody can drop, advance or
 * stream from it while this node is a standby (worker.c's log hook then
 * names slot_failover in the error).  While no worker runs (it exited, or
 * waits after a failed cycle) the launcher holds them instead: the worker
 * hands them over (sf_hand_over_held_copies) and takes them back first
 * thing (sf_take_over_copies); the launcher lets go of them when it
 * exits, or when no worker can take them back (no database; promoted).
 * Every change of holder is made under ReplicationSlotControlLock held
 * exclusively, so that none is lost between two processes.  Holding needs
 * nothing on disk: a crash restart reloads the slots inactive, and a copy
 * is unprotected only between then and the worker's first cycle, and
 * while neither worker nor launcher runs.
 *
 * Replay of DROP DATABASE (and of ALTER DATABASE ... SET TABLESPACE, as a
 * drop at the old location) drops the database's slots and fails, stopping
 * the standby, if one of them is active.  So the worker holds a session
 * lock on the pg_database entry of every database it holds logical copies
 * in (held_databases), and touches such a copy only under that lock; the
 * startup process takes the lock in AccessExclusiveLock mode before it
 * drops the database's slots, so it waits.  Before that, it says which
 * database it drops (sf_replay_drops_database, in shared memory), takes
 * from the launcher the copies the launcher holds there, and wakes the
 * worker, whose sf_yield_to_replay() lets go of the copies and lock of
 * that database (and of any whose lock has a waiter); the worker neither
 * locks nor touches that database until the drop is replayed.  A copy is
 * made only in a database whose directory exists, since replay removes it
 * long before the commit that removes the row, and a copy left in a
 * database that is gone is dropped.  Invariants: a logical copy is held
 * by the worker only while it holds its database's lock; the launcher
 * holds copies without locks, and never one of a database being dropped;
 * every database we hold a lock on is in held_databases.  A top-level
 * abort releases session locks too, so an error in a cycle first hands
 * the copies to the launcher.
 *
 * Crash safety: a copy is created RS_EPHEMERAL, given its reservation and
 * its marker, then persisted; a crash before that leaves nothing, since
 * PostgreSQL does not restore ephemeral slots.  A logical copy whose
 * restart_lsn or catalog_xmin moved is saved to disk (ReplicationSlotSave)
 * before the in-memory horizons that other processes see are moved; other
 * moves are saved by the next restartpoint before it removes WAL.  This is
 * what PostgreSQL does for its own slots.
 *
 * State of this file, in the worker's own memory (no lock): held_databases,
 * and horizons_moved, which says that a copy moved during this cycle and
 * the global horizons must follow (sf_move_horizons).  In shared memory
 * (CopiesShared, its spinlock): the database whose drop replay is
 * replaying.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  copies.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "common/relpath.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "compat.h"
#include "slot_failover.h"

/*
 * What the startup process tells the worker, in shared memory; mutex
 * protects it.
 */
typedef struct CopiesShared
{
	slock_t		mutex;
	Oid			dropping;		/* replay is dropping this database */
} CopiesShared;

static Oid	sf_database_dropping(void);
static bool sf_database_present(Oid datoid);
static bool sf_lock_has_waiter(const LOCKTAG *tag);
static bool sf_two_phase_differs(const SlotRow *row, ReplicationSlot *slot);
static bool sf_take_positions(ReplicationSlot *slot, const SlotRow *row,
							  bool move_restart, bool *save);
static void sf_save_copy(ReplicationSlot *slot, bool old_two_phase,
						 XLogRecPtr old_two_phase_at);
static void sf_release_copy(void);
static void sf_let_go(Oid datoid);
static int	sf_name_cmp(const void *a, const void *b);
static bool sf_drop_leftover(const char *name);

/* a copy moved: the global horizons follow at the end of the cycle */
static bool horizons_moved = false;

/* OIDs of the databases whose pg_database entry we hold a session lock on */
static List *held_databases = NIL;

static CopiesShared *copies_shared = NULL;

/*
 * Ask for the shared state's memory; from shmem_request_hook.
 */
void
sf_copies_shmem_request(void)
{
	RequestAddinShmemSpace(sizeof(CopiesShared));
}

/*
 * Create or attach to the shared state; from shmem_startup_hook, which
 * holds AddinShmemInitLock.
 */
void
sf_copies_shmem_init(void)
{
	bool		found;

	copies_shared = ShmemInitStruct("slot_failover copies",
									sizeof(CopiesShared), &found);
	if (!found)
	{
		SpinLockInit(&copies_shared->mutex);
		copies_shared->dropping = InvalidOid;
	}
}

/*
 * The database whose drop replay is replaying, or InvalidOid.
 */
static Oid
sf_database_dropping(void)
{
	Oid			datoid;

	SpinLockAcquire(&copies_shared->mutex);
	datoid = copies_shared->dropping;
	SpinLockRelease(&copies_shared->mutex);
	return datoid;
}

/*
 * In the startup process, around the replay of a database's drop (also
 * the old location's, for ALTER DATABASE ... SET TABLESPACE), which drops
 * the database's slots and fails on one that is active: with a valid
 * datoid, before it, say so (the worker then lets go of the database at
 * once and does not take it again), and let go of the database's copies
 * that holder (the launcher) keeps while no worker holds them; with
 * InvalidOid, after it.
 */
void
sf_replay_drops_database(Oid datoid, SfHolder holder)
{
	SpinLockAcquire(&copies_shared->mutex);
	copies_shared->dropping = datoid;
	SpinLockRelease(&copies_shared->mutex);

	if (OidIsValid(datoid) && holder != SF_NOBODY)
	{
		LWLockAcquire(ReplicationSlotControlLock, LW_EXCLUSIVE);
		sf_hand_over_copies(holder, SF_NOBODY, datoid);
		LWLockRelease(ReplicationSlotControlLock);
	}
}

/*
 * Give every copy that process from holds, of database datoid or of every
 * database with InvalidOid, to process to (0: nobody), and wake whoever
 * waits for one of them.  Caller holds ReplicationSlotControlLock
 * exclusively, which orders the changes of holder: the worker hands its
 * copies to the launcher when it exits or fails, and takes them back when
 * it starts or goes on (sf_take_over_copies); the launcher, when it exits,
 * and the startup process, before it replays a database's drop, let go of
 * those it holds.  The slot a process has acquired is not a held copy.
 */
void
sf_hand_over_copies(SfHolder from, SfHolder to, Oid datoid)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
		bool		moved = false;

		if (!slot->in_use || slot == MyReplicationSlot)
			continue;
		SpinLockAcquire(&slot->mutex);
		if (sf_slot_holder(slot) == from &&
			(!OidIsValid(datoid) || slot->data.database == datoid))
		{
			sf_slot_set_holder(slot, to, now);
			moved = true;
		}
		SpinLockRelease(&slot->mutex);
		if (moved)
			ConditionVariableBroadcast(&slot->active_cv);
	}
}

/*
 * The worker exits, or a cycle failed: give every copy it holds to the
 * launcher (to; 0 if none runs) but those of a database that replay is
 * dropping, which it lets go of.  Caller holds ReplicationSlotControlLock
 * exclusively, read to under it, and then releases the database locks
 * (sf_release_held_copies).
 */
void
sf_hand_over_held_copies(SfHolder to)
{
	Oid			dropping = sf_database_dropping();

	if (OidIsValid(dropping))
		sf_hand_over_copies(sf_holder_me(), SF_NOBODY, dropping);
	sf_hand_over_copies(sf_holder_me(), to, InvalidOid);
}

/*
 * Take back the copies that process from (the launcher) holds for us, as
 * the first thing the worker does when it starts or goes on after an
 * error, so that no client can take one in between.  A logical copy's
 * database is locked first (sf_lock_database); one whose database replay
 * is dropping is left to the startup process, and one whose database is
 * gone is taken all the same: replay has dropped what it drops, and the
 * copy is ours to drop.  Needs a transaction, for the catalog cache.
 */
void
sf_take_over_copies(SfHolder from)
{
	List	   *names = NIL;
	List	   *databases = NIL;
	ListCell   *lc_name;
	ListCell   *lc_database;

	if (from == SF_NOBODY)
		return;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];

		if (slot->in_use && sf_slot_holder(slot) == from)
		{
			names = lappend(names, pstrdup(NameStr(slot->data.name)));
			databases = lappend_oid(databases, slot->data.database);
		}
	}
	LWLockRelease(ReplicationSlotControlLock);

	forboth(lc_name, names, lc_database, databases)
	{
		Oid			datoid = lfirst_oid(lc_database);
		ReplicationSlot *slot;

		bool		dropping;

		if (OidIsValid(datoid) && !sf_lock_database(datoid, &dropping) &&
			dropping)
			continue;
		LWLockAcquire(ReplicationSlotControlLock, LW_EXCLUSIVE);
		slot = SearchNamedReplicationSlot(lfirst(lc_name), false);
		if (slot != NULL)
		{
			SpinLockAcquire(&slot->mutex);
			if (sf_slot_holder(slot) == from)
				sf_slot_set_holder(slot, sf_holder_me(), 0);
			SpinLockRelease(&slot->mutex);
			ConditionVariableBroadcast(&slot->active_cv);
		}
		LWLockRelease(ReplicationSlotControlLock);
	}
}

/*
 * Lock the pg_database entry of a logical copy's database for the session,
 * unless we already hold it, so that replay of DROP DATABASE waits for
 * sf_yield_to_replay() instead of failing on a copy we hold.  Returns
 * whether the database exists (sf_database_present).  If it does not, the
 * lock is kept all the same, so that the caller may drop a copy left in
 * it, unless replay is dropping it right now (sf_replay_drops_database):
 * then *dropping is set, nothing is locked, and its copies are replay's to
 * drop; the caller must not touch them.
 *
 * The database goes into held_databases before the lock is taken, so that
 * an error cannot leave a lock nobody knows to release; the list may name
 * databases we do not hold, and its users check.  Once recovery has ended
 * (the last pass of sf_standby_finish), no replay can drop a database, and
 * waiting for the lock would only let a user's open ALTER DATABASE hold up
 * the promotion: then only whether the database exists counts.
 */
bool
sf_lock_database(Oid datoid, bool *dropping)
{
	LOCKTAG		tag;
	MemoryContext oldcxt;

	*dropping = false;
	if (!RecoveryInProgress())
		return SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(datoid));

	if (datoid == sf_database_dropping())
	{
		*dropping = true;
		return false;
	}

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, datoid, 0);
	if (!sf_lock_held_by_me(&tag, AccessShareLock))
	{
		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		held_databases = list_append_unique_oid(held_databases, datoid);
		MemoryContextSwitchTo(oldcxt);

		/* waits while replay drops the database, which drops its slots */
		LockSharedObjectForSession(DatabaseRelationId, datoid, 0,
								   AccessShareLock);
		AcceptInvalidationMessages();
	}
	return sf_database_present(datoid);
}

/*
 * Is the database there: its pg_database row, and its directory?  Replay
 * of DROP DATABASE removes the directory, and the slots, well before it
 * replays the commit that removes the row: in between, a copy made there
 * would outlive the database.  Replay of ALTER DATABASE ... SET TABLESPACE
 * commits the new location before it removes the old one.
 */
static bool
sf_database_present(Oid datoid)
{
	HeapTuple	tuple;
	bool		present = false;

	tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(datoid));
	if (HeapTupleIsValid(tuple))
	{
		char	   *path;
		struct stat st;

		path = GetDatabasePath(datoid,
							   ((Form_pg_database) GETSTRUCT(tuple))->dattablespace);
		present = stat(path, &st) == 0;
		pfree(path);
		ReleaseSysCache(tuple);
	}
	return present;
}

/*
 * Does a process wait for this lock?  On a standby only the startup process
 * asks for a lock on a database that conflicts with ours, and others queue
 * behind it.  Our partition lock keeps every PGPROC waiting for a lock of
 * that partition in place; a PGPROC waiting in another partition cannot
 * show our tag.
 */
static bool
sf_lock_has_waiter(const LOCKTAG *tag)
{
	LWLock	   *partition_lock = LockHashPartitionLock(LockTagHashCode(tag));
	bool		waiting = false;

	LWLockAcquire(partition_lock, LW_SHARED);
	for (uint32 i = 0; i < ProcGlobal->allProcCount && !waiting; i++)
	{
		LOCK	   *lock = ProcGlobal->allProcs[i].waitLock;

		waiting = lock != NULL && memcmp(&lock->tag, tag, sizeof(LOCKTAG)) == 0;
	}
	LWLockRelease(partition_lock);
	return waiting;
}

/*
 * Let go of the copies and the lock of every database that replay is about
 * to drop (sf_replay_drops_database, which wakes the worker), or whose lock
 * another process waits for: that is the startup process replaying DROP
 * DATABASE, and replay stands still until we do.  Once recovery has ended, a waiter
 * can only be a user's session, and the copies stay held.
 */
void
sf_yield_to_replay(void)
{
	ListCell   *lc;
	Oid			dropping;

	if (!RecoveryInProgress())
		return;

	dropping = sf_database_dropping();
	foreach(lc, held_databases)
	{
		Oid			datoid = lfirst_oid(lc);
		LOCKTAG		tag;

		SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, datoid, 0);
		if (datoid != dropping && !sf_lock_has_waiter(&tag))
			continue;
		ereport(LOG,
				(errmsg("letting go of copies of replication slots in database with OID %u, which replay is about to drop",
						datoid)));
		sf_let_go(datoid);
		held_databases = foreach_delete_current(held_databases, lc);
	}
}

/*
 * Create a waiting copy of the row's slot, holding what is safe here.
 */
void
sf_create_copy(const SlotRow *row)
{
	ReplicationSlot *slot;

	sf_slot_create(NameStr(row->name), row->logical, RS_EPHEMERAL,
				   row->two_phase);
	slot = MyReplicationSlot;

	if (row->logical)
	{
		SpinLockAcquire(&slot->mutex);
		slot->data.database = row->datoid;
		slot->data.plugin = row->plugin;
		slot->data.two_phase_at = row->two_phase_at;
		SpinLockRelease(&slot->mutex);
	}

	ReplicationSlotReserveWal();

	if (row->logical)
	{
		TransactionId xmin;

		/*
		 * Only replay removes catalog rows on a standby, and only what the
		 * primary removed; publishing the horizon after releasing
		 * ProcArrayLock leaves no window here.
		 */
		LWLockAcquire(ProcArrayLock, LW_SHARED);
		xmin = GetOldestSafeDecodingTransactionId(true);
		LWLockRelease(ProcArrayLock);

		SpinLockAcquire(&slot->mutex);
		slot->effective_catalog_xmin = xmin;
		slot->data.catalog_xmin = xmin;
		SpinLockRelease(&slot->mutex);
		ReplicationSlotsComputeRequiredXmin(false);
	}

	sf_marker_write(NameStr(row->name), row->identity, true);
	ReplicationSlotPersist();
	sf_release_copy();

	ereport(LOG,
			(errmsg("created copy of replication slot \"%s\", waiting for it to become ready",
					NameStr(row->name))));
}

/*
 * Does the row enable two-phase decoding, or move the point from which it
 * applies, for a logical copy that does not have it?  Caller holds the
 * slot's spinlock.
 *
 * A subscription asks for two_phase only once, when it enables it; from
 * then on the slot's two_phase decides (CreateDecodingContext).  A copy
 * without it would decode a COMMIT PREPARED after failover as a plain
 * commit, and send the subscriber, which holds the prepared transaction,
 * its changes a second time.  Decoding of a COMMIT PREPARED also sends the
 * whole transaction again, as a PREPARE, when it was prepared before
 * two_phase_at (ReorderBufferFinishPrepared), since the client cannot have
 * had it then: so the copy takes the primary's two_phase_at too.
 * two_phase is never turned off (PostgreSQL 15 cannot), and a row without
 * two_phase_at says nothing about it.
 */
static bool
sf_two_phase_differs(const SlotRow *row, ReplicationSlot *slot)
{
	return (row->two_phase && !slot->data.two_phase) ||
		(!XLogRecPtrIsInvalid(row->two_phase_at) &&
		 row->two_phase_at != slot->data.two_phase_at);
}

/*
 * Move a copy forward to the row's positions, never backwards.  With
 * make_ready, the copy's marker then says it is ready.  Returns the copy,
 * which we go on holding.
 *
 * The steps, in this order: a logical copy's restart_lsn (and the
 * catalog_xmin that goes with it) moves only to a point whose decoding
 * snapshot the row carries, which is written first: decoding after
 * promotion must find it there.  It is written too, if missing, when the
 * copy's restart_lsn is the row's already.  Then the copy takes the row's
 * positions in memory (sf_take_positions); then, if needed, it is saved
 * (sf_save_copy); only then does its effective catalog_xmin, which other
 * processes see, move; last, the marker of a copy becoming ready.
 *
 * As in core, a logical slot whose restart_lsn or catalog_xmin moved is
 * saved before its effective horizon moves, so that after a crash it still
 * holds what it claims; other changes are only marked dirty, and saved by
 * the next restartpoint before it removes WAL.  A copy becoming ready is
 * saved before its marker says so: a promotion right after a crash must not
 * find a ready copy with the positions of its reservation (a logical one
 * without a confirmed_flush).  The global horizons follow at the end of
 * the cycle (sf_move_horizons): until then they hold more.
 */
ReplicationSlot *
sf_advance_copy(const SlotRow *row, bool make_ready)
{
	ReplicationSlot *slot;
	XLogRecPtr	restart_lsn;
	bool		move_restart;
	bool		save = make_ready;
	bool		old_two_phase;
	XLogRecPtr	old_two_phase_at;
	bool		invalidated;

	sf_slot_acquire(NameStr(row->name));
	slot = MyReplicationSlot;

	SpinLockAcquire(&slot->mutex);
	restart_lsn = slot->data.restart_lsn;
	old_two_phase = slot->data.two_phase;
	old_two_phase_at = slot->data.two_phase_at;
	invalidated = sf_slot_invalidated(slot);
	SpinLockRelease(&slot->mutex);

	/*
	 * A restartpoint may have invalidated the copy since the decision, if we
	 * did not hold it; moving its restart_lsn from 0 would hide that.  The
	 * row's error lets the next cycle make it anew.
	 */
	if (invalidated)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("copy of replication slot \"%s\" was invalidated on this standby",
						NameStr(row->name))));

	move_restart = row->restart_lsn > restart_lsn &&
		(!row->logical || row->snapshot != NULL);

	/*
	 * Also when the copy is already there: a new copy's reservation can be
	 * the row's restart_lsn (an idle primary's slot restarts at a
	 * checkpoint's redo pointer, where a restartpoint here puts the
	 * reservation), and the file must be there before the copy is ready.
	 * sf_snapshot_write does nothing if it is.
	 */
	if (row->logical && row->snapshot != NULL &&
		row->restart_lsn >= restart_lsn)
		sf_snapshot_write(row->restart_lsn, row->snapshot);

	if (sf_take_positions(slot, row, move_restart, &save))
	{
		ReplicationSlotMarkDirty();
		if (save)
			sf_save_copy(slot, old_two_phase, old_two_phase_at);

		SpinLockAcquire(&slot->mutex);
		slot->effective_catalog_xmin = slot->data.catalog_xmin;
		SpinLockRelease(&slot->mutex);
		horizons_moved = true;
	}

	if (make_ready)
		sf_marker_write(NameStr(row->name), row->identity, false);

	sf_release_copy();
	return slot;
}

/*
 * The in-memory step of sf_advance_copy: give the acquired copy the row's
 * positions that are ahead of its own (restart_lsn only if move_restart,
 * and a logical copy's catalog_xmin with it), and the row's two_phase.
 * Returns whether anything changed; sets *save when a logical copy's
 * restart_lsn or two_phase moved, which must reach the disk before the
 * copy's horizon moves or it is reported ready.
 */
static bool
sf_take_positions(ReplicationSlot *slot, const SlotRow *row,
				  bool move_restart, bool *save)
{
	bool		changed = false;

	SpinLockAcquire(&slot->mutex);
	if (move_restart)
	{
		slot->data.restart_lsn = row->restart_lsn;
		changed = true;
	}
	if (row->logical)
	{
		if (row->confirmed_flush > slot->data.confirmed_flush)
		{
			slot->data.confirmed_flush = row->confirmed_flush;
			changed = true;
		}
		if (move_restart &&
			TransactionIdPrecedes(slot->data.catalog_xmin, row->catalog_xmin))
		{
			slot->data.catalog_xmin = row->catalog_xmin;
			changed = true;
		}
		if (sf_two_phase_differs(row, slot))
		{
			slot->data.two_phase |= row->two_phase;
			if (!XLogRecPtrIsInvalid(row->two_phase_at))
				slot->data.two_phase_at = row->two_phase_at;
			changed = *save = true;
		}
		*save |= move_restart;
	}
	SpinLockRelease(&slot->mutex);

	return changed;
}

/*
 * Save the acquired copy to disk.  If that fails, the two_phase state it
 * had before sf_take_positions is put back: a two_phase that did not reach
 * the disk must not count as taken, since the next cycle compares the row
 * with memory.
 */
static void
sf_save_copy(ReplicationSlot *slot, bool old_two_phase,
			 XLogRecPtr old_two_phase_at)
{
	PG_TRY();
	{
		ReplicationSlotSave();
	}
	PG_CATCH();
	{
		SpinLockAcquire(&slot->mutex);
		slot->data.two_phase = old_two_phase;
		slot->data.two_phase_at = old_two_phase_at;
		SpinLockRelease(&slot->mutex);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * The common case of a ready copy that we hold since the last cycle, and
 * whose row names the same slot, without acquiring it: a physical copy's
 * restart_lsn, or a logical copy's confirmed_flush, moves forward in place,
 * as the copy's holder may, and the copy is marked dirty for the next
 * restartpoint to save, as core does for the slots of its walsenders
 * (PhysicalConfirmReceivedLocation, LogicalConfirmReceivedLocation).
 * Returns false, changing nothing, if the copy is not the one we hold
 * under that name, if a restartpoint invalidated it (its WAL is gone: it
 * must be made anew, not moved, which would make it look valid), or if it
 * needs sf_advance_copy: a new restart_lsn or catalog_xmin of a logical
 * slot needs its snapshot written and the copy saved, and so does a new
 * two_phase state.
 */
bool
sf_advance_held_copy(ReplicationSlot *slot, const SlotRow *row)
{
	bool		handled;

	/* while we hold it, nobody else can drop or move it */
	SpinLockAcquire(&slot->mutex);
	handled = slot->in_use && sf_slot_holder(slot) == sf_holder_me() &&
		strcmp(NameStr(slot->data.name), NameStr(row->name)) == 0 &&
		!sf_slot_invalidated(slot);
	if (handled && row->logical)
	{
		handled = row->restart_lsn == slot->data.restart_lsn &&
			row->catalog_xmin == slot->data.catalog_xmin &&
			!sf_two_phase_differs(row, slot);
		if (handled && row->confirmed_flush > slot->data.confirmed_flush)
		{
			slot->data.confirmed_flush = row->confirmed_flush;
			slot->just_dirtied = slot->dirty = true;
		}
	}
	else if (handled && row->restart_lsn > slot->data.restart_lsn)
	{
		slot->data.restart_lsn = row->restart_lsn;
		slot->just_dirtied = slot->dirty = true;
		horizons_moved = true;
	}
	SpinLockRelease(&slot->mutex);

	return handled;
}

/*
 * Let the global horizons follow the copies that moved during this cycle.
 * Once per cycle, after every copy that needed it was saved.
 */
void
sf_move_horizons(void)
{
	if (horizons_moved)
	{
		ReplicationSlotsComputeRequiredXmin(false);
		ReplicationSlotsComputeRequiredLSN();
		horizons_moved = false;
	}
}

/*
 * Mark one of our copies active for this worker, without acquiring it, so
 * that nobody else can drop, advance or stream from it while this node is a
 * standby: they get "replication slot ... is active for PID", and worker.c's
 * log hook adds that slot_failover keeps it.  A logical copy's database
 * must be locked (sf_lock_database).
 */
void
sf_hold_copy(const char *name)
{
	ReplicationSlot *slot;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(name, false);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		if (sf_slot_holder(slot) == SF_NOBODY)
			sf_slot_set_holder(slot, sf_holder_me(), 0);
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
}

/*
 * Release the copy we acquired, and go on holding it.
 */
static void
sf_release_copy(void)
{
	NameData	name = MyReplicationSlot->data.name;

	ReplicationSlotRelease();
	sf_hold_copy(NameStr(name));
}

/*
 * Stop holding the copies of one database, then release its lock if we
 * hold it; with InvalidOid, stop holding every copy and release no lock.
 */
static void
sf_let_go(Oid datoid)
{
	LWLockAcquire(ReplicationSlotControlLock, LW_EXCLUSIVE);
	sf_hand_over_copies(sf_holder_me(), SF_NOBODY, datoid);
	LWLockRelease(ReplicationSlotControlLock);

	if (OidIsValid(datoid))
	{
		LOCKTAG		tag;

		SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, datoid, 0);
		if (sf_lock_held_by_me(&tag, AccessShareLock))
			UnlockSharedObjectForSession(DatabaseRelationId, datoid, 0,
										 AccessShareLock);
	}
}

/*
 * Stop holding every copy, and release every database lock: at the end of
 * recovery, when the worker exits (PostgreSQL would otherwise see the
 * copies active for a process that is gone, and a session lock survives a
 * background worker's exit), and before a failed cycle aborts its
 * transaction, which releases the locks but not the copies.
 */
void
sf_release_held_copies(void)
{
	ListCell   *lc;

	sf_let_go(InvalidOid);
	foreach(lc, held_databases)
		sf_let_go(lfirst_oid(lc));
	list_free(held_databases);
	held_databases = NIL;
}

/*
 * Drop one of our copies.
 */
void
sf_drop_copy(const char *name)
{
	ReplicationSlotDrop(name, true);
	ereport(LOG,
			(errmsg("dropped copy of replication slot \"%s\"", name)));
}

/*
 * Compare two slot names, for qsort and bsearch over an array of them.
 */
static int
sf_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * The names of our copies whose name is not among the nwanted names of
 * wanted, that is, that no row of this cycle (of our own cluster) asks for
 * any more; the caller drops each (sf_drop_orphan).  wanted is sorted in
 * place.  A slot without a marker is never one.
 */
List *
sf_orphan_copies(const char **wanted, int nwanted)
{
	List	   *names = NIL;
	List	   *orphans = NIL;
	ListCell   *lc;

	if (nwanted > 1)
		qsort(wanted, nwanted, sizeof(const char *), sf_name_cmp);

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
		const char *name = NameStr(slot->data.name);

		if (!slot->in_use || slot->data.persistency != RS_PERSISTENT)
			continue;
		if (nwanted == 0 ||
			bsearch(&name, wanted, nwanted, sizeof(const char *),
					sf_name_cmp) == NULL)
			names = lappend(names, pstrdup(name));
	}
	LWLockRelease(ReplicationSlotControlLock);

	/* the marker is a file: read outside the lock */
	foreach(lc, names)
		if (sf_marker_exists(lfirst(lc)))
			orphans = lappend(orphans, lfirst(lc));
	return orphans;
}

/*
 * Drop an orphan copy (sf_orphan_copies), under its database's lock if it
 * is logical.
 */
void
sf_drop_orphan(const char *name)
{
	SlotState	state;
	bool		dropping;

	if (!sf_slot_read(name, &state))
		return;
	/* replay is dropping its database, and drops it */
	if (OidIsValid(state.database) &&
		!sf_lock_database(state.database, &dropping) && dropping)
		return;
	sf_drop_copy(name);
}

/*
 * Drop a copy that was not ready when recovery ended.  Returns false if it
 * cannot be dropped, after a WARNING: a client that took it while the
 * worker did not hold it must not keep the worker from the primary's role.
 * Outside any transaction, so without a subtransaction: a failed drop has
 * changed nothing but the slot's own state, and holds at most
 * ReplicationSlotAllocationLock, beside which we hold no LWLock.
 */
static bool
sf_drop_leftover(const char *name)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	bool		dropped = true;

	PG_TRY();
	{
		ReplicationSlotDrop(name, true);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		LWLockReleaseAll();
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not drop copy of replication slot \"%s\", which was not ready when recovery ended",
						name),
				 errdetail_internal("%s", edata->message),
				 errhint("Drop the slot once that process has let go of it: it does not hold what its clients need.")));
		FreeErrorData(edata);
		dropped = false;
	}
	PG_END_TRY();
	return dropped;
}

/*
 * Recovery has ended: drop the copies that never became ready, and those
 * invalidated on this standby, with one LOG line naming them.  Ready copies stay, as ordinary slots.  The worker
 * still holds them all, so that no client can take one that was not ready
 * in between (ReplicationSlotAcquire takes a slot active for our own PID);
 * the caller lets go of them afterwards.
 */
void
sf_drop_waiting_copies(void)
{
	List	   *names = sf_persistent_slot_names();
	ListCell   *lc;
	StringInfoData dropped;

	initStringInfo(&dropped);
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		bool		waiting;
		SlotState	state;

		if (sf_marker_read(name, &waiting) == 0)
			continue;
		/* an invalidated copy is no more ready than a waiting one */
		if (!waiting && (!sf_slot_read(name, &state) || !state.invalidated))
			continue;
		if (!sf_drop_leftover(name))
			continue;
		appendStringInfo(&dropped, "%s\"%s\"", dropped.len > 0 ? ", " : "", name);
	}
	if (dropped.len > 0)
		ereport(LOG,
				(errmsg("dropped copies of replication slots that were not ready when recovery ended"),
				 errdetail("The copies dropped: %s.", dropped.data)));
}
