/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Every server call whose form depends on the PostgreSQL major version.
 *
 * slot_failover is written against PostgreSQL 15.  Each call below whose
 * name, signature or home differs in another supported major version gets
 * one static inline wrapper or macro here, so that the rest of the code
 * never tests PG_VERSION_NUM.  A port to another major version starts by
 * adding its branch to each wrapper; nothing else should need an #if.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_FAILOVER_COMPAT_H
#define SLOT_FAILOVER_COMPAT_H

#include "access/transam.h"
#include "access/xlog_internal.h"
#include "access/xlog.h"
#include "funcapi.h"
#include "replication/slot.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "utils/guc.h"

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "slot_failover 1.0 supports PostgreSQL 15 only; see compat.h"
#endif

/*
 * Reserve the GUC prefix, so that a misspelt slot_failover.* setting is
 * reported instead of silently ignored.  (PG13-14: EmitWarningsOnPlaceholders.)
 */
#define sf_reserve_guc_prefix(prefix)	MarkGUCPrefixReserved(prefix)

/*
 * The timeline WAL is being written on.  (PG13-14: ThisTimeLineID.)
 */
static inline TimeLineID
sf_insert_timeline(void)
{
	return GetWALInsertionTimeLine();
}

/*
 * A counter that moves whenever a transaction that had an xid commits or
 * aborts.  (PG13: latestCompletedXid; PG17+: TransamVariables.)
 */
static inline uint64
sf_xact_completion_count(void)
{
	uint64		count;

	LWLockAcquire(ProcArrayLock, LW_SHARED);
	count = ShmemVariableCache->xactCompletionCount;
	LWLockRelease(ProcArrayLock);
	return count;
}

/*
 * The oldest xid whose status the commit log still holds.  Caller holds
 * XactTruncationLock.  (PG17+: TransamVariables.)
 */
static inline TransactionId
sf_oldest_clog_xid(void)
{
	return ShmemVariableCache->oldestClogXid;
}

/*
 * Has this slot been invalidated because the WAL it needed was removed?
 * Caller holds the slot's spinlock.  (PG16+: data.invalidated.)
 */
static inline bool
sf_slot_invalidated(ReplicationSlot *slot)
{
	return slot->data.restart_lsn == InvalidXLogRecPtr &&
		slot->data.invalidated_at != InvalidXLogRecPtr;
}

/*
 * Create a slot and make it ours.  (PG13: no two_phase; PG17+: failover
 * and synced flags.)
 */
static inline void
sf_slot_create(const char *name, bool db_specific,
			   ReplicationSlotPersistency persistency, bool two_phase)
{
	ReplicationSlotCreate(name, db_specific, persistency, two_phase);
}

/*
 * Acquire a slot, failing at once if another process has it.  (PG13: a
 * SlotAcquireBehavior; PG18: error_if_invalid.)
 */
static inline void
sf_slot_acquire(const char *name)
{
	ReplicationSlotAcquire(name, true);
}

/*
 * Does this process hold the lock in this mode?  (PG17: a third argument,
 * orstronger.)
 */
static inline bool
sf_lock_held_by_me(const LOCKTAG *tag, LOCKMODE mode)
{
	return LockHeldByMe(tag, mode);
}

/*
 * Set up a set-returning function that materializes its result.  (PG13-14:
 * by hand.)
 */
static inline void
sf_init_materialized_srf(FunctionCallInfo fcinfo)
{
	InitMaterializedSRF(fcinfo, 0);
}

/*
 * A built-in resource manager's redo function; sf_replace_redo puts another
 * in its place and returns it.  Only from _PG_init in the postmaster, whose
 * table the startup process inherits.  (PG15+: RmgrTable is writable, for
 * custom resource managers; PG13-14: it is const.)
 */
typedef void (*sf_redo_function) (XLogReaderState *record);

static inline sf_redo_function
sf_replace_redo(RmgrId rmid, sf_redo_function redo)
{
	sf_redo_function previous = RmgrTable[rmid].rm_redo;

	RmgrTable[rmid].rm_redo = redo;
	return previous;
}

#endif							/* SLOT_FAILOVER_COMPAT_H */
