/*-------------------------------------------------------------------------
 *
 * slots.c
 *		Reading PostgreSQL's replication slot array.
 *
 * SlotState (slot_failover.h) is what slot_failover needs of a slot: what
 * a row records of it.  It is copied under the slot's spinlock while
 * ReplicationSlotControlLock keeps the slot in use, so that no field of it
 * changes halfway through; nothing here does I/O under either lock.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  slots.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/pg_list.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "storage/spin.h"

#include "compat.h"
#include "slot_failover.h"

/*
 * Find the slot of that name and copy its state.  Returns false if there
 * is no such slot.
 */
bool
sf_slot_read(const char *name, SlotState *state)
{
	ReplicationSlot *slot;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(name, false);
	if (slot != NULL)
		sf_slot_copy(slot, state);
	LWLockRelease(ReplicationSlotControlLock);

	return slot != NULL;
}

/*
 * Copy what a row records of a slot.  Caller holds ReplicationSlotControlLock,
 * so the slot stays in use.
 */
void
sf_slot_copy(ReplicationSlot *slot, SlotState *state)
{
	SpinLockAcquire(&slot->mutex);
	state->persistent = slot->data.persistency == RS_PERSISTENT;
	state->logical = SlotIsLogical(slot);
	state->database = slot->data.database;
	state->plugin = slot->data.plugin;
	state->two_phase = slot->data.two_phase;
	state->two_phase_at = slot->data.two_phase_at;
	state->restart_lsn = slot->data.restart_lsn;
	state->confirmed_flush = slot->data.confirmed_flush;
	state->xmin = slot->data.xmin;
	state->catalog_xmin = slot->data.catalog_xmin;
	state->invalidated = sf_slot_invalidated(slot);
	state->core_failover = sf_slot_core_failover(slot);
	state->core_synced = sf_slot_core_synced(slot);
	SpinLockRelease(&slot->mutex);
}

/*
 * The names of every persistent slot, palloc'd: for work on each slot that
 * does I/O, which must not happen under ReplicationSlotControlLock.
 */
List *
sf_persistent_slot_names(void)
{
	List	   *names = NIL;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
		bool		persistent;

		/* in_use and the name cannot change while we hold the lock */
		if (!slot->in_use)
			continue;
		SpinLockAcquire(&slot->mutex);
		persistent = slot->data.persistency == RS_PERSISTENT;
		SpinLockRelease(&slot->mutex);
		if (persistent)
			names = lappend(names, pstrdup(NameStr(slot->data.name)));
	}
	LWLockRelease(ReplicationSlotControlLock);
	return names;
}
