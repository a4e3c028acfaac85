/*-------------------------------------------------------------------------
 *
 * slotsync.c
 *		The standby's side: turn the replayed rows of slot_failover.slots
 *		into local copies of the primary's slots.
 *
 * On a hot standby the worker reads the table whenever replay has moved,
 * and for each row keeps a local slot of the same name (a copy) that holds
 * the WAL, and for a logical slot the catalog rows, that a client will need
 * once this standby is promoted.  The rules are those of PostgreSQL 17's
 * slot synchronization (see pg17_slotsync.md, section 2), adapted to a
 * standby of 15, where logical decoding cannot run:
 *
 *	- A new copy first reserves what is safe on this standby: WAL from the
 *	  last restartpoint's redo pointer (ReplicationSlotReserveWal), and for a
 *	  logical copy the oldest catalog xmin still safe here
 *	  (GetOldestSafeDecodingTransactionId).  It is persisted at once, with a
 *	  marker saying "waiting" (marker.c), so that a restart keeps the
 *	  reservation.
 *	- A waiting copy becomes ready only once the row's restart_lsn and
 *	  catalog_xmin are at or past that reservation, since only then is all
 *	  the row needs held here.  For a logical copy, hot_standby_feedback and
 *	  primary_slot_name must also carry the reservation to the primary, and
 *	  if the primary's table has a row for primary_slot_name, that row must
 *	  show the primary holding it.  The copy then takes the row's positions,
 *	  and its marker loses the word "waiting".
 *	- A logical copy also needs the decoding snapshot the primary serialized
 *	  at the row's restart_lsn, which the row carries (snapshot.c); it is
 *	  written here before the copy's restart_lsn moves there.  A ready copy
 *	  whose row has no snapshot for a new restart_lsn keeps its old one.
 *	- A ready copy only moves forward.
 *	- A logical copy has the row's two_phase and two_phase_at, saved before
 *	  it is reported ready with them: decoding a COMMIT PREPARED after
 *	  failover must know whether the client already had the PREPARE.
 *	- A row written by another cluster (its system_identifier is not ours,
 *	  which a standby shares with its primary) is ignored, with one WARNING
 *	  and state "error": a subscription FOR ALL TABLES can bring one.
 *	- A copy whose row is gone, or names another identity, is dropped (and
 *	  created again for the new identity).
 *	- A local slot without a marker is not ours: a row of the same name is a
 *	  conflict, reported and left alone.  The standby's own upstream slot
 *	  (primary_slot_name) is never copied: after promotion it would pin WAL
 *	  for a standby that no longer exists.
 *
 * Every row is handled in its own subtransaction, so that an error in one
 * leaves the others alone (pg_failover_slots #49).
 *
 * Protection: between cycles the worker holds every copy, that is, marks
 * it active for its own PID without acquiring it, so that nobody can drop,
 * advance or stream from it while this node is a standby (worker.c's log
 * hook then names slot_failover in the error).  Replay of DROP DATABASE
 * fails, and stops the standby, if a slot of that database is active.  So
 * the worker holds a session lock on the pg_database entry of every
 * database it holds logical copies in (held_databases), and touches such
 * a copy only under that lock; the startup process takes the lock in
 * AccessExclusiveLock mode before it drops the database's slots, so it
 * waits.  At the start of each cycle, that is at least once per naptime,
 * sf_yield_to_replay() lets go of the copies and lock of every database
 * whose lock has a waiter, and replay goes on.  Invariants: a logical copy
 * is held only while we hold its database's lock, and every database we
 * hold a lock on is in held_databases.  A top-level abort releases session
 * locks too, so an error in a cycle, promotion and exit first let go of
 * every copy (sf_release_held_copies).
 *
 * When recovery ends, sf_standby_finish() drops the copies that never
 * became ready; the ready ones are ordinary persistent slots with a marker
 * matching their row, which the primary's role (primary.c) adopts.
 *
 * What a cycle found is published on the status board (status.c), for
 * the status view.
 *
 * Crash safety: a copy is created RS_EPHEMERAL, given its reservation and
 * its marker, then persisted; a crash before that leaves nothing, since
 * PostgreSQL does not restore ephemeral slots.  A logical copy whose
 * restart_lsn or catalog_xmin moved is saved to disk (ReplicationSlotSave)
 * before the in-memory horizons that other processes see are moved; other
 * moves are saved by the next restartpoint before it removes WAL.  This is
 * what PostgreSQL does for its own slots.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  slotsync.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "replication/walreceiver.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "compat.h"
#include "slot_failover.h"

/* What the worker remembers about each row between cycles. */
typedef struct CopyEntry
{
	NameData	name;			/* hash key */
	SlotFailoverCopyState state;
	char		reason[SF_REASON_LEN];
	TimestampTz changed_at;		/* when state or reason last changed */
	bool		seen;			/* has a row this cycle */
	bool		foreign;		/* and another cluster wrote it */
	bool		had_copy;		/* a local copy existed after the last cycle */

	/* the ready copy we hold since the last cycle, or NULL; its identity */
	ReplicationSlot *slot;
	int64		identity;
} CopyEntry;

/* A local slot, as far as we need it. */
typedef struct LocalSlot
{
	bool		exists;
	bool		owned;			/* has a marker: ours */
	int64		identity;		/* from the marker */
	bool		waiting;		/* from the marker */
	XLogRecPtr	restart_lsn;
	TransactionId catalog_xmin;
} LocalSlot;

static bool sf_find_local(const char *name, LocalSlot *local);
static void sf_sync_row(SlotRow *row, SlotRow *upstream, CopyEntry *entry);
static void sf_sync_row_guarded(SlotRow *row, SlotRow *upstream, CopyEntry *entry);
static bool sf_sync_held_copy(SlotRow *row, SlotRow *upstream, CopyEntry *entry);
static void sf_ignore_foreign_row(SlotRow *row, CopyEntry *entry);
static bool sf_two_phase_differs(SlotRow *row, ReplicationSlot *slot);
static const char *sf_logical_blocker(void);
static bool sf_lock_database(Oid datoid);
static bool sf_lock_has_waiter(const LOCKTAG *tag);
static void sf_yield_to_replay(void);
static void sf_create_copy(SlotRow *row);
static ReplicationSlot *sf_advance_copy(SlotRow *row, bool make_ready);
static void sf_hold_copy(const char *name);
static void sf_release_copy(void);
static void sf_let_go(Oid datoid);
static void sf_drop_copy(const char *name);
static void sf_set_state(CopyEntry *entry, SlotFailoverCopyState state,
						 const char *fmt,...) pg_attribute_printf(3, 4);
static void sf_drop_orphans(void);
static void sf_publish(void);

/* per-row state, in TopMemoryContext */
static HTAB *copy_entries = NULL;

/* replay position of the last cycle that did any work */
static XLogRecPtr last_replay = InvalidXLogRecPtr;

/* a copy moved: the global horizons follow at the end of the cycle */
static bool horizons_moved = false;

/* said once until the settings change */
static const char *warned_blocker = NULL;

/* OIDs of the databases whose pg_database entry we hold a session lock on */
static List *held_databases = NIL;

/*
 * One cycle of the standby's role.  Does nothing unless replay moved since
 * the last cycle, or force is set (sync(), a reload, an error).
 */
void
sf_standby_cycle(bool force)
{
	XLogRecPtr	replay = GetXLogReplayRecPtr(NULL);
	SlotRow		   *rows;
	SlotRow		   *upstream = NULL;
	int			nrows;
	HASH_SEQ_STATUS seq;
	CopyEntry  *entry;

	/* first, since replay does not move while it waits for us */
	sf_yield_to_replay();

	if (!force && replay == last_replay && copy_entries != NULL)
		return;

	if (copy_entries == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(CopyEntry);
		ctl.hcxt = TopMemoryContext;
		copy_entries = hash_create("slot_failover copies", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rows = sf_table_read(&nrows, true);
	PopActiveSnapshot();

	for (int i = 0; i < nrows; i++)
		if (PrimarySlotName && strcmp(NameStr(rows[i].name), PrimarySlotName) == 0 &&
			rows[i].system_identifier == GetSystemIdentifier())
			upstream = &rows[i];

	hash_seq_init(&seq, copy_entries);
	while ((entry = hash_seq_search(&seq)) != NULL)
		entry->seen = false;

	for (int i = 0; i < nrows; i++)
	{
		bool		found;

		entry = hash_search(copy_entries, NameStr(rows[i].name), HASH_ENTER, &found);
		if (!found)
		{
			entry->state = SF_COPY_WAITING;
			entry->reason[0] = '\0';
			entry->had_copy = false;
			entry->slot = NULL;
			entry->changed_at = GetCurrentTimestamp();
		}
		entry->seen = true;
		entry->foreign = rows[i].system_identifier != GetSystemIdentifier();
		if (entry->foreign)
			sf_ignore_foreign_row(&rows[i], entry);
		else if (!sf_sync_held_copy(&rows[i], upstream, entry))
			sf_sync_row_guarded(&rows[i], upstream, entry);
	}

	/* once for all copies, after those that needed it were saved */
	if (horizons_moved)
	{
		ReplicationSlotsComputeRequiredXmin(false);
		ReplicationSlotsComputeRequiredLSN();
		horizons_moved = false;
	}

	sf_drop_orphans();
	CommitTransactionCommand();

	/* forget rows that are gone */
	hash_seq_init(&seq, copy_entries);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (!entry->seen)
			hash_search(copy_entries, NameStr(entry->name), HASH_REMOVE, NULL);

	sf_publish();
	last_replay = replay;
}

/*
 * Forget what the last cycles found, so that the next one looks again.
 */
void
sf_standby_forget(void)
{
	if (copy_entries != NULL)
		hash_destroy(copy_entries);
	copy_entries = NULL;
	last_replay = InvalidXLogRecPtr;
}

/*
 * Look up a local persistent or ephemeral slot by name, with its marker.
 */
static bool
sf_find_local(const char *name, LocalSlot *local)
{
	ReplicationSlot *slot;

	memset(local, 0, sizeof(LocalSlot));
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(name, false);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		local->exists = true;
		local->restart_lsn = slot->data.restart_lsn;
		local->catalog_xmin = slot->data.catalog_xmin;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);

	if (local->exists)
	{
		local->identity = sf_marker_read(name, &local->waiting);
		local->owned = local->identity != 0;
	}
	return local->exists;
}

/*
 * sf_sync_row in a subtransaction: an error is recorded as the row's state
 * and does not stop the cycle.
 */
static void
sf_sync_row_guarded(SlotRow *row, SlotRow *upstream, CopyEntry *entry)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		sf_sync_row(row, upstream, entry);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (MyReplicationSlot != NULL)
			ReplicationSlotRelease();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		if (entry->state != SF_COPY_ERROR ||
			strcmp(entry->reason, edata->message) != 0)
			ereport(WARNING,
					(errmsg("could not synchronize replication slot \"%s\": %s",
							NameStr(row->name), edata->message)));
		sf_set_state(entry, SF_COPY_ERROR, "%s", edata->message);
		entry->slot = NULL;
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * Bring the local copy of one row in line with it.
 */
static void
sf_sync_row(SlotRow *row, SlotRow *upstream, CopyEntry *entry)
{
	LocalSlot	local;
	const char *blocker;
	ReplicationSlot *copy;

	entry->slot = NULL;
	if (row->logical && !sf_lock_database(row->datoid))
	{
		sf_set_state(entry, SF_COPY_ERROR,
					 "database %u of the slot does not exist on this standby",
					 row->datoid);
		return;
	}

	sf_find_local(NameStr(row->name), &local);

	if (local.exists && !local.owned)
	{
		if (entry->state != SF_COPY_CONFLICT)
			ereport(WARNING,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("replication slot \"%s\" exists on this standby and was not created by slot_failover",
							NameStr(row->name)),
					 errdetail("The primary's slot of that name is not copied while it exists."),
					 errhint("Drop or rename the local slot if this standby should keep a copy.")));
		sf_set_state(entry, SF_COPY_CONFLICT,
					 "a slot of this name exists on this standby and was not created by slot_failover");
		return;
	}

	if (!local.exists &&
		(entry->state == SF_COPY_READY ||
		 (entry->state == SF_COPY_WAITING && entry->had_copy)))
		ereport(WARNING,
				(errmsg("copy of replication slot \"%s\" was dropped on this standby; slot_failover creates it again",
						NameStr(row->name)),
				 errdetail("The new copy must become ready before this standby can take over the slot.")));
	entry->had_copy = false;

	/* a slot dropped and created again on the primary is a new slot */
	if (local.exists && local.identity != row->identity)
	{
		sf_drop_copy(NameStr(row->name));
		local.exists = false;
	}

	if (PrimarySlotName && strcmp(NameStr(row->name), PrimarySlotName) == 0)
	{
		if (local.exists)
			sf_drop_copy(NameStr(row->name));
		sf_set_state(entry, SF_COPY_WAITING,
					 "this is the slot this standby streams from (primary_slot_name); it is not copied");
		return;
	}

	if (row->invalidated || XLogRecPtrIsInvalid(row->restart_lsn))
	{
		if (local.exists)
			sf_drop_copy(NameStr(row->name));
		sf_set_state(entry, SF_COPY_ERROR,
					 row->invalidated ? "the slot is invalidated on the primary" :
					 "the slot reserves no WAL on the primary");
		return;
	}

	/* again after an error, which lets go of every copy */
	if (local.exists)
		sf_hold_copy(NameStr(row->name));

	if (row->logical)
	{
		blocker = sf_logical_blocker();
		if (blocker != NULL)
		{
			if (warned_blocker != blocker)
				ereport(WARNING,
						(errmsg("logical replication slots cannot be made ready on this standby: %s",
								blocker)));
			warned_blocker = blocker;
			sf_set_state(entry, SF_COPY_WAITING, "%s", blocker);
			return;
		}
		warned_blocker = NULL;
	}

	if (!local.exists)
	{
		sf_create_copy(row);
		sf_find_local(NameStr(row->name), &local);
	}
	entry->had_copy = true;

	if (local.waiting)
	{
		if (row->restart_lsn < local.restart_lsn ||
			(row->logical &&
			 (!TransactionIdIsValid(row->catalog_xmin) ||
			  TransactionIdPrecedes(row->catalog_xmin, local.catalog_xmin))))
		{
			if (row->logical)
				sf_set_state(entry, SF_COPY_WAITING,
							 "waiting for the primary's slot to reach this standby's reservation (restart_lsn %X/%X, catalog_xmin %u); its consumer must advance it",
							 LSN_FORMAT_ARGS(local.restart_lsn), local.catalog_xmin);
			else
				sf_set_state(entry, SF_COPY_WAITING,
							 "waiting for the primary's slot to reach this standby's reservation (restart_lsn %X/%X)",
							 LSN_FORMAT_ARGS(local.restart_lsn));
			return;
		}
		if (row->logical && row->snapshot == NULL)
		{
			sf_set_state(entry, SF_COPY_WAITING,
						 "waiting for the primary to record the decoding snapshot of restart_lsn %X/%X; its consumer must advance the slot",
						 LSN_FORMAT_ARGS(row->restart_lsn));
			return;
		}
		if (row->logical && upstream != NULL &&
			(!TransactionIdIsValid(upstream->catalog_xmin) ||
			 TransactionIdPrecedes(local.catalog_xmin, upstream->catalog_xmin)))
		{
			sf_set_state(entry, SF_COPY_WAITING,
						 "waiting for the primary to hold catalog_xmin %u for this standby (slot \"%s\" shows %u)",
						 local.catalog_xmin, PrimarySlotName,
						 upstream->catalog_xmin);
			return;
		}
		copy = sf_advance_copy(row, true);
		ereport(LOG,
				(errmsg("copy of replication slot \"%s\" is ready for failover",
						NameStr(row->name))));
	}
	else
		copy = sf_advance_copy(row, false);

	sf_set_state(entry, SF_COPY_READY, "%s", "");
	entry->slot = copy;
	entry->identity = row->identity;
}

/*
 * The common case, without a subtransaction, marker read or slot search: a
 * copy that was ready after the last cycle, that we still hold, and whose
 * row names the same slot.  A physical copy's restart_lsn, or a logical
 * copy's confirmed_flush, moves forward in place, as the copy's holder may,
 * and the copy is marked dirty for the next restartpoint to save, as core
 * does for the slots of its walsenders (PhysicalConfirmReceivedLocation,
 * LogicalConfirmReceivedLocation).  Returns false if the row needs
 * sf_sync_row: a new restart_lsn or catalog_xmin of a logical slot needs its
 * snapshot written and the copy saved, and so does a new two_phase state.
 */
static bool
sf_sync_held_copy(SlotRow *row, SlotRow *upstream, CopyEntry *entry)
{
	ReplicationSlot *slot = entry->slot;
	bool		handled;

	if (slot == NULL || entry->state != SF_COPY_READY || row == upstream ||
		row->identity != entry->identity || row->invalidated ||
		(row->logical && sf_logical_blocker() != NULL))
		return false;

	/* while we hold it, nobody else can drop or move it */
	SpinLockAcquire(&slot->mutex);
	handled = slot->in_use && slot->active_pid == MyProcPid &&
		strcmp(NameStr(slot->data.name), NameStr(row->name)) == 0;
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
sf_two_phase_differs(SlotRow *row, ReplicationSlot *slot)
{
	return (row->two_phase && !slot->data.two_phase) ||
		(!XLogRecPtrIsInvalid(row->two_phase_at) &&
		 row->two_phase_at != slot->data.two_phase_at);
}

/*
 * A row that another cluster wrote, for instance one that a subscription to
 * a publication FOR ALL TABLES brought to our primary: it says nothing about
 * the slots of our primary, so it gets no copy, and a copy of that name
 * loses its row (sf_drop_orphans).  One WARNING while the row stays.
 */
static void
sf_ignore_foreign_row(SlotRow *row, CopyEntry *entry)
{
	char		reason[SF_REASON_LEN];

	snprintf(reason, sizeof(reason),
			 "the row was written by another cluster (system identifier %llu), not by this standby's primary",
			 (unsigned long long) row->system_identifier);
	if (entry->state != SF_COPY_ERROR || strcmp(entry->reason, reason) != 0)
		ereport(WARNING,
				(errmsg("ignoring the row of replication slot \"%s\" in \"%s.%s\", written by another cluster",
						NameStr(row->name), SF_SCHEMA, SF_TABLE),
				 errdetail("The row's system identifier is %llu; this cluster's is %llu.",
						   (unsigned long long) row->system_identifier,
						   (unsigned long long) GetSystemIdentifier()),
				 errhint("A publication FOR ALL TABLES carries slot_failover.slots to its subscribers; publish explicit tables or schemas instead.")));
	sf_set_state(entry, SF_COPY_ERROR, "%s", reason);
	entry->slot = NULL;
}

/*
 * Why logical copies cannot become ready on this standby, or NULL.
 */
static const char *
sf_logical_blocker(void)
{
	if (wal_level < WAL_LEVEL_LOGICAL)
		return "\"wal_level\" is not \"logical\" on this standby";
	if (!WalRcvStreaming())
		return "this standby does not stream from a primary, so it cannot hold catalog rows there";
	if (!hot_standby_feedback)
		return "\"hot_standby_feedback\" is off, so the primary may remove catalog rows the copy needs";
	if (PrimarySlotName == NULL || PrimarySlotName[0] == '\0')
		return "\"primary_slot_name\" is not set, so the primary does not keep this standby's catalog_xmin";
	return NULL;
}

/*
 * Lock the pg_database entry of a logical copy's database for the session,
 * unless we already hold it, so that replay of DROP DATABASE waits for
 * sf_yield_to_replay() instead of failing on a copy we hold.  Returns
 * whether the database exists; if not, the lock is not kept.
 *
 * The database goes into held_databases before the lock is taken, so that
 * an error cannot leave a lock nobody knows to release; the list may name
 * databases we do not hold, and its users check.
 */
static bool
sf_lock_database(Oid datoid)
{
	LOCKTAG		tag;
	MemoryContext oldcxt;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, datoid, 0);
	if (sf_lock_held_by_me(&tag, AccessShareLock))
		return true;

	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	held_databases = list_append_unique_oid(held_databases, datoid);
	MemoryContextSwitchTo(oldcxt);

	/* waits while replay drops the database, which drops its slots */
	LockSharedObjectForSession(DatabaseRelationId, datoid, 0, AccessShareLock);
	AcceptInvalidationMessages();
	if (!SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(datoid)))
	{
		sf_let_go(datoid);
		held_databases = list_delete_oid(held_databases, datoid);
		return false;
	}
	return true;
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
 * Let go of the copies and the lock of every database whose lock another
 * process waits for: that is the startup process replaying DROP DATABASE,
 * and replay stands still until we do.
 */
static void
sf_yield_to_replay(void)
{
	ListCell   *lc;

	foreach(lc, held_databases)
	{
		Oid			datoid = lfirst_oid(lc);
		LOCKTAG		tag;

		SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, datoid, 0);
		if (!sf_lock_has_waiter(&tag))
			continue;
		ereport(LOG,
				(errmsg("letting go of copies of replication slots in database %u, which replay is about to drop",
						datoid)));
		sf_let_go(datoid);
		held_databases = foreach_delete_current(held_databases, lc);
	}
}

/*
 * Create a waiting copy of the row's slot, holding what is safe here.
 */
static void
sf_create_copy(SlotRow *row)
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
 * Move a copy forward to the row's positions, never backwards.  With
 * make_ready, the copy's marker then says it is ready.  Returns the copy,
 * which we go on holding.
 *
 * A logical copy's restart_lsn (and the catalog_xmin that goes with it)
 * moves only to a point whose decoding snapshot the row carries, which is
 * written here first: decoding after promotion must find it there.
 *
 * As in core, a logical slot whose restart_lsn or catalog_xmin moved is
 * saved before its effective horizon moves, so that after a crash it still
 * holds what it claims; other changes are only marked dirty, and saved by
 * the next restartpoint before it removes WAL.  A copy becoming ready is
 * saved before its marker says so: a promotion right after a crash must not
 * find a ready copy with the positions of its reservation (a logical one
 * without a confirmed_flush).  The global horizons follow at the end of
 * the cycle (horizons_moved): until then they hold more.  A logical copy
 * takes the row's two_phase and two_phase_at (sf_two_phase_differs), and
 * is saved before it is reported ready with them.
 */
static ReplicationSlot *
sf_advance_copy(SlotRow *row, bool make_ready)
{
	ReplicationSlot *slot;
	XLogRecPtr	restart_lsn;
	bool		move_restart;
	bool		changed = false;
	bool		save = make_ready;
	bool		old_two_phase;
	XLogRecPtr	old_two_phase_at;

	sf_slot_acquire(NameStr(row->name));
	slot = MyReplicationSlot;

	SpinLockAcquire(&slot->mutex);
	restart_lsn = slot->data.restart_lsn;
	old_two_phase = slot->data.two_phase;
	old_two_phase_at = slot->data.two_phase_at;
	SpinLockRelease(&slot->mutex);

	move_restart = row->restart_lsn > restart_lsn &&
		(!row->logical || row->snapshot != NULL);
	if (move_restart && row->logical)
		sf_snapshot_write(row->restart_lsn, row->snapshot);

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
			changed = save = true;
		}
		save |= move_restart;
	}
	SpinLockRelease(&slot->mutex);

	if (changed)
	{
		ReplicationSlotMarkDirty();
		if (save)
		{
			PG_TRY();
			{
				ReplicationSlotSave();
			}
			PG_CATCH();
			{
				/*
				 * A two_phase that did not reach the disk must not count as
				 * taken: the next cycle compares with memory.
				 */
				SpinLockAcquire(&slot->mutex);
				slot->data.two_phase = old_two_phase;
				slot->data.two_phase_at = old_two_phase_at;
				SpinLockRelease(&slot->mutex);
				PG_RE_THROW();
			}
			PG_END_TRY();
		}

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
 * Mark one of our copies active for this worker, without acquiring it, so
 * that nobody else can drop, advance or stream from it while this node is a
 * standby: they get "replication slot ... is active for PID", and worker.c's
 * log hook adds that slot_failover keeps it.  A logical copy's database
 * must be locked (sf_lock_database).
 */
static void
sf_hold_copy(const char *name)
{
	ReplicationSlot *slot;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(name, false);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		if (slot->active_pid == 0)
			slot->active_pid = MyProcPid;
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
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
		bool		released = false;

		if (!slot->in_use || slot == MyReplicationSlot)
			continue;
		SpinLockAcquire(&slot->mutex);
		if (slot->active_pid == MyProcPid &&
			(!OidIsValid(datoid) || slot->data.database == datoid))
		{
			slot->active_pid = 0;
			released = true;
		}
		SpinLockRelease(&slot->mutex);
		if (released)
			ConditionVariableBroadcast(&slot->active_cv);
	}
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
static void
sf_drop_copy(const char *name)
{
	ReplicationSlotDrop(name, true);
	ereport(LOG,
			(errmsg("dropped copy of replication slot \"%s\"", name)));
}

/*
 * Drop our copies that no row of this cycle (an entry marked seen, and not
 * foreign) asks for any more.  A slot without a marker is never touched.
 */
static void
sf_drop_orphans(void)
{
	List	   *names = NIL;
	List	   *databases = NIL;
	ListCell   *lc_name;
	ListCell   *lc_database;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
		CopyEntry  *entry;

		if (!slot->in_use || slot->data.persistency != RS_PERSISTENT)
			continue;
		entry = hash_search(copy_entries, NameStr(slot->data.name), HASH_FIND, NULL);
		if (entry == NULL || !entry->seen || entry->foreign)
		{
			names = lappend(names, pstrdup(NameStr(slot->data.name)));
			databases = lappend_oid(databases, slot->data.database);
		}
	}
	LWLockRelease(ReplicationSlotControlLock);

	forboth(lc_name, names, lc_database, databases)
	{
		const char *name = lfirst(lc_name);
		Oid			datoid = lfirst_oid(lc_database);

		if (!sf_marker_exists(name))
			continue;
		/* a database that is gone took its slots with it */
		if (OidIsValid(datoid) && !sf_lock_database(datoid))
			continue;
		sf_drop_copy(name);
	}
}

/*
 * Record the state of a row's copy, and when it changed.
 */
static void
sf_set_state(CopyEntry *entry, SlotFailoverCopyState state, const char *fmt,...)
{
	char		reason[SF_REASON_LEN];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(reason, sizeof(reason), fmt, args);
	va_end(args);

	if (entry->state != state || strcmp(entry->reason, reason) != 0)
	{
		entry->state = state;
		strlcpy(entry->reason, reason, SF_REASON_LEN);
		entry->changed_at = GetCurrentTimestamp();
	}
}

/*
 * Publish the rows' states on the status board (status.c), for the status
 * view.
 */
static void
sf_publish(void)
{
	HASH_SEQ_STATUS seq;
	CopyEntry  *entry;
	SlotFailoverCopyStatus *published;
	int			n = 0;

	published = palloc(sizeof(SlotFailoverCopyStatus) *
					   Max(hash_get_num_entries(copy_entries), 1));
	hash_seq_init(&seq, copy_entries);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		SlotFailoverCopyStatus *status = &published[n++];

		status->name = entry->name;
		status->state = entry->state;
		strlcpy(status->reason, entry->reason, SF_REASON_LEN);
		status->changed_at = entry->changed_at;
	}
	sf_status_publish(published, n);
	pfree(published);
}

/*
 * Recovery has ended: drop the copies that never became ready, and forget
 * the standby's state.  Ready copies stay, as ordinary slots.
 */
void
sf_standby_finish(void)
{
	List	   *names = NIL;
	ListCell   *lc;
	StringInfoData dropped;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];

		if (slot->in_use && slot->data.persistency == RS_PERSISTENT)
			names = lappend(names, pstrdup(NameStr(slot->data.name)));
	}
	LWLockRelease(ReplicationSlotControlLock);

	sf_release_held_copies();

	initStringInfo(&dropped);
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		bool		waiting;

		if (sf_marker_read(name, &waiting) == 0 || !waiting)
			continue;
		ReplicationSlotDrop(name, true);
		appendStringInfo(&dropped, "%s\"%s\"", dropped.len > 0 ? ", " : "", name);
	}
	if (dropped.len > 0)
		ereport(LOG,
				(errmsg("dropped copies of replication slots that were not ready when recovery ended: %s",
						dropped.data)));

	sf_standby_forget();
	sf_status_publish(NULL, 0);
}

