/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Every server call whose form depends on the PostgreSQL major version.
 *
 * slot_failover is written against PostgreSQL 15's server API.  Each call
 * below whose name, signature or home differs in another supported major
 * version (17, 18, 19) gets one static inline wrapper or macro here, with
 * a comment naming the versions of each form, so that the rest of the code
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
#include "miscadmin.h"
#include "replication/slot.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

/*
 * Supported: 15, 17, 18 and 19, each built and tested by scripts/test.  16
 * is in no Debian suite, so it cannot be built or tested on our machines;
 * the branches below name "16+" where the change came in 16, but we refuse
 * to build for a version we have never run.
 */
#if PG_VERSION_NUM < 150000 || (PG_VERSION_NUM >= 160000 && PG_VERSION_NUM < 170000) || PG_VERSION_NUM >= 200000
#error "slot_failover supports PostgreSQL 15, 17, 18 and 19; see compat.h"
#endif

/*
 * Reserve the GUC prefix, so that a misspelt slot_failover.* setting is
 * reported instead of silently ignored.  (PG13-14: EmitWarningsOnPlaceholders.)
 */
#define sf_reserve_guc_prefix(prefix)	MarkGUCPrefixReserved(prefix)

/*
 * Allocate a GUC check hook's "extra", which the GUC code frees.  (16+:
 * guc_malloc, freed with pfree; before, malloc and free.)
 */
static inline void *
sf_guc_malloc(size_t size)
{
#if PG_VERSION_NUM >= 160000
	return guc_malloc(LOG, size);
#else
	return malloc(size);
#endif
}

/*
 * Free what sf_guc_malloc allocated, in a check hook that refuses a value.
 */
static inline void
sf_guc_free(void *ptr)
{
#if PG_VERSION_NUM >= 160000
	guc_free(ptr);
#else
	free(ptr);
#endif
}

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
#if PG_VERSION_NUM >= 170000
	count = TransamVariables->xactCompletionCount;
#else
	count = ShmemVariableCache->xactCompletionCount;
#endif
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
#if PG_VERSION_NUM >= 170000
	return TransamVariables->oldestClogXid;
#else
	return ShmemVariableCache->oldestClogXid;
#endif
}

/*
 * Has this slot been invalidated?  Caller holds the slot's spinlock.  On 15
 * only removed WAL invalidates a slot; 16+ record the cause in
 * data.invalidated (also recovery conflicts with catalog rows, wal_level
 * lowered; 18+: idle timeout).
 */
static inline bool
sf_slot_invalidated(ReplicationSlot *slot)
{
#if PG_VERSION_NUM >= 160000
	return slot->data.invalidated != RS_INVAL_NONE;
#else
	return slot->data.restart_lsn == InvalidXLogRecPtr &&
		slot->data.invalidated_at != InvalidXLogRecPtr;
#endif
}

/*
 * Does PostgreSQL's own slot synchronization carry this slot: created or
 * altered with failover = true on a primary (17+)?  Caller holds the
 * slot's spinlock.
 */
static inline bool
sf_slot_core_failover(ReplicationSlot *slot)
{
#if PG_VERSION_NUM >= 170000
	return slot->data.failover;
#else
	return false;
#endif
}

/*
 * Is this a slot that PostgreSQL's slot sync worker made on this standby
 * (17+: synced = true)?  Caller holds the slot's spinlock.
 */
static inline bool
sf_slot_core_synced(ReplicationSlot *slot)
{
#if PG_VERSION_NUM >= 170000
	return slot->data.synced;
#else
	return false;
#endif
}

/*
 * Create a slot and make it ours.  17+ add core's failover and synced
 * flags: our copies are neither core-failover slots nor synced by core's
 * slotsync worker, which would otherwise drop or overwrite them.  19+ add
 * a repack flag before them, for REPACK's own slots.
 */
static inline void
sf_slot_create(const char *name, bool db_specific,
			   ReplicationSlotPersistency persistency, bool two_phase)
{
#if PG_VERSION_NUM >= 190000
	ReplicationSlotCreate(name, db_specific, persistency, two_phase,
						  false, false, false);
#elif PG_VERSION_NUM >= 170000
	ReplicationSlotCreate(name, db_specific, persistency, two_phase,
						  false, false);
#else
	ReplicationSlotCreate(name, db_specific, persistency, two_phase);
#endif
}

/*
 * Acquire a slot, failing at once if another process has it.  18+ can
 * refuse an invalidated slot; we acquire invalidated copies to drop or
 * report them, so we do not ask it to.
 */
static inline void
sf_slot_acquire(const char *name)
{
#if PG_VERSION_NUM >= 180000
	ReplicationSlotAcquire(name, true, false);
#else
	ReplicationSlotAcquire(name, true);
#endif
}

/*
 * The PID of the process that has the slot active, or 0.  Caller holds
 * the slot's spinlock.  (19+: the holder's ProcNumber, active_proc.)
 */
static inline pid_t
sf_slot_active_pid(ReplicationSlot *slot)
{
#if PG_VERSION_NUM >= 190000
	return slot->active_proc == INVALID_PROC_NUMBER ? 0 :
		GetPGProcByNumber(slot->active_proc)->pid;
#else
	return slot->active_pid;
#endif
}

/*
 * Who has a slot active, in the form the slot records it: 15-18 the
 * holder's PID (active_pid), 19+ its ProcNumber (active_proc).  The worker
 * and the launcher hand copies to each other in this form.  Caller holds
 * the slot's spinlock to read or set it.
 */
#if PG_VERSION_NUM >= 190000
typedef ProcNumber SfHolder;
#define SF_NOBODY	INVALID_PROC_NUMBER
#else
typedef pid_t SfHolder;
#define SF_NOBODY	0
#endif

static inline SfHolder
sf_holder_me(void)
{
#if PG_VERSION_NUM >= 190000
	return MyProcNumber;
#else
	return MyProcPid;
#endif
}

static inline SfHolder
sf_slot_holder(ReplicationSlot *slot)
{
#if PG_VERSION_NUM >= 190000
	return slot->active_proc;
#else
	return slot->active_pid;
#endif
}

/*
 * Make holder (SF_NOBODY: nobody) the slot's holder, as acquiring and
 * releasing do.  17+ also keep inactive_since, which 18+ invalidate a slot
 * by (idle_replication_slot_timeout): 0 while held, else since now.
 */
static inline void
sf_slot_set_holder(ReplicationSlot *slot, SfHolder holder, TimestampTz now)
{
#if PG_VERSION_NUM >= 190000
	slot->active_proc = holder;
#else
	slot->active_pid = holder;
#endif
#if PG_VERSION_NUM >= 170000
	slot->inactive_since = holder == SF_NOBODY ? now : 0;
#endif
}

/*
 * Check a slot name, reporting a bad one at elevel.  (19+: whether names
 * reserved for the system are allowed, which users' slots never are.)
 */
static inline bool
sf_slot_validate_name(const char *name, int elevel)
{
#if PG_VERSION_NUM >= 190000
	return ReplicationSlotValidateName(name, false, elevel);
#else
	return ReplicationSlotValidateName(name, elevel);
#endif
}

/*
 * Pass a signal handler's arguments on to another handler, such as die().
 * (19+: SIGNAL_ARGS carries the sender's pg_signal_info too.)
 */
#if PG_VERSION_NUM >= 190000
#define SF_SIGNAL_ARGS_PASS		postgres_signal_arg, pg_siginfo
#else
#define SF_SIGNAL_ARGS_PASS		postgres_signal_arg
#endif

/*
 * Does this process hold the lock in exactly this mode?  (17+: a third
 * argument, orstronger.)
 */
static inline bool
sf_lock_held_by_me(const LOCKTAG *tag, LOCKMODE mode)
{
#if PG_VERSION_NUM >= 170000
	return LockHeldByMe(tag, mode, false);
#else
	return LockHeldByMe(tag, mode);
#endif
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
 * This backend's index in ProcGlobal->allProcs, for
 * GetPGProcByNumber().  (17+: MyProcNumber.)
 */
static inline int
sf_my_procno(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProcNumber;
#else
	return MyProc->pgprocno;
#endif
}

/*
 * Write every dirty slot to disk now, as a checkpoint does.  (17+: told
 * whether this is the shutdown checkpoint, which would also save logical
 * slots whose only change is confirmed_flush; we mark our copies dirty
 * ourselves, so we say it is not.)
 */
static inline void
sf_checkpoint_slots(void)
{
#if PG_VERSION_NUM >= 170000
	CheckPointReplicationSlots(false);
#else
	CheckPointReplicationSlots();
#endif
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
