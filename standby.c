/*-------------------------------------------------------------------------
 *
 * standby.c
 *		The standby's side: turn the replayed rows of slot_failover.slots
 *		into local copies of the primary's slots.
 *
 * On a hot standby the worker reads the table whenever replay has moved,
 * and for each row keeps a local slot of the same name (a copy) that holds
 * the WAL, and for a logical slot the catalog rows, that a client will need
 * once this standby is promoted.  The rules are those of PostgreSQL 17's
 * slot synchronization (its replication/logical/slotsync.c), adapted to a
 * standby of 15, where logical decoding cannot run.  This file decides what
 * each row's copy needs; copies.c does it to the slots.
 *
 * The decision is one pure function, sf_decide_copy(): from the row, what
 * we know of the local slot of its name and a few facts about this standby,
 * it picks an action, the state to report and why, with one branch per
 * rule of README's "On a standby", in the same order.  sf_sync_row()
 * gathers the facts, calls it and carries the action out, with the
 * messages that go with it.  Creating a copy, and dropping one that belongs
 * to another identity of the slot, change what is known of the local
 * slot, so after either the decision is taken again, on the new facts:
 * whether a new copy may become ready depends on the reservation it got.
 *
 * Around the decision:
 *
 *	- A row written by another cluster (its system_identifier is not ours,
 *	  which a standby shares with its primary) is ignored, with one WARNING
 *	  and state "error": a subscription FOR ALL TABLES can bring one.
 *	- A copy whose row is gone, or whose row another cluster wrote, is
 *	  dropped (sf_drop_orphan).
 *	- A ready copy we hold since the last cycle, whose row names the same
 *	  slot, is moved forward without a subtransaction when no saving is
 *	  needed (sf_sync_held_copy): the common case.
 *
 * Every other row, and the drop of every orphan copy, is handled in its own
 * subtransaction (sf_guarded), so that an error in one (a copy a client
 * holds, no free slot) is reported on that row and leaves the others
 * alone (pg_failover_slots #49).
 *
 * What the worker remembers about each row between cycles (copy_entries)
 * lives in its own memory and needs no lock.  What a cycle found is
 * published on the status board (status.c), for the status view.
 *
 * When recovery ends, sf_standby_finish() runs one last pass over the
 * table as replay left it, which brings every ready copy to its row, then
 * drops the copies that never became ready; the ready ones are ordinary
 * persistent slots with a marker matching their row, which the primary's
 * role (primary.c) adopts.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  standby.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "replication/walreceiver.h"
#include "storage/fd.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"

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

/* A local slot, as far as we need it: its state, and what its marker says. */
typedef struct LocalSlot
{
	bool		exists;
	SlotState	state;			/* if it exists (slots.c) */
	bool		owned;			/* has a marker: ours */
	int64		identity;		/* from the marker */
	bool		waiting;		/* from the marker */
} LocalSlot;

/* What sf_decide_copy knows besides the row; sf_gather_facts reads it. */
typedef struct CopyFacts
{
	bool		database_exists;	/* a logical row's database is here */
	bool		database_dropping;	/* replay is dropping it right now */
	bool		is_primary_slot;	/* the row names primary_slot_name */
	const char *logical_blocker;	/* why logical copies wait, or NULL */
	const SlotRow *upstream;	/* the row of primary_slot_name, or NULL */
	LocalSlot	local;			/* the local slot of the row's name */
} CopyFacts;

/* What to do with a row's copy; names in copy_action_names. */
typedef enum CopyAction
{
	SF_DO_NONE,					/* only report the state */
	SF_DO_CONFLICT,				/* report, once; leave the slot alone */
	SF_DO_REPLACE,				/* drop the copy (WARNING if a reason), then
								 * decide again */
	SF_DO_DROP,					/* drop the copy if there is one */
	SF_DO_BLOCKED,				/* keep the copy; WARNING once */
	SF_DO_CREATE,				/* create the copy, then decide again */
	SF_DO_WAIT,					/* keep the copy as it is */
	SF_DO_MAKE_READY,			/* move it to the row, mark it ready */
	SF_DO_ADVANCE				/* move the ready copy forward */
} CopyAction;

static const char *const copy_action_names[] = {
	"none", "conflict", "replace", "drop", "blocked", "create", "wait",
	"make ready", "advance"
};

/* The outcome of sf_decide_copy. */
typedef struct CopyDecision
{
	CopyAction	action;
	SlotFailoverCopyState state;	/* not set for CREATE, nor for REPLACE
									 * without a reason */
	char		reason[SF_REASON_LEN];
} CopyDecision;

PG_FUNCTION_INFO_V1(slot_failover_decide_for_test);

static void sf_entries_begin(void);
static bool sf_find_local(const char *name, LocalSlot *local);
static void sf_gather_facts(SlotRow *row, SlotRow *upstream, CopyFacts *facts);
static void sf_decide_copy(const SlotRow *row, const CopyFacts *facts,
						   CopyDecision *decision);
static void sf_set_decision(CopyDecision *decision, CopyAction action,
							SlotFailoverCopyState state,
							const char *fmt,...) pg_attribute_printf(4, 5);
static void sf_sync_row(SlotRow *row, SlotRow *upstream, CopyEntry *entry);
static void sf_notice_lost_copy(SlotRow *row, CopyEntry *entry,
								const LocalSlot *local);
static void sf_keep_copy(SlotRow *row, CopyEntry *entry, CopyFacts *facts,
						 CopyDecision *decision);
static CopyEntry *sf_entry(const char *name);
static void sf_guarded(CopyEntry *entry, SlotRow *row, SlotRow *upstream);
static bool sf_sync_held_copy(SlotRow *row, SlotRow *upstream, CopyEntry *entry);
static void sf_ignore_foreign_row(SlotRow *row, CopyEntry *entry);
static const char *sf_logical_blocker(bool ready_copy);
static bool sf_set_state(CopyEntry *entry, SlotFailoverCopyState state,
						 const char *fmt,...) pg_attribute_printf(3, 4);
static void sf_publish(void);

/* per-row state, in TopMemoryContext */
static HTAB *copy_entries = NULL;

/* replay position of the last cycle that did any work */
static XLogRecPtr last_replay = InvalidXLogRecPtr;

/* said once until the settings change */
static const char *warned_blocker = NULL;

/* the last pass at the end of recovery (sf_standby_finish) is running */
static bool finishing = false;

/*
 * A file in the data directory that says this node has kept copies as a
 * standby and has not brought them to the rows replayed at the end of
 * recovery yet (sf_standby_finish's last pass).  Unlike the worker's
 * memory, it outlives a crash or a worker restart between the promotion
 * and that pass.  last_pass_noted: this worker has written it.
 */
#define SF_LAST_PASS_FILE	"slot_failover.last_pass"
static bool last_pass_noted = false;

/*
 * One cycle of the standby's role.  Does nothing unless replay moved since
 * the last cycle, or force is set (sync(), a reload, an error).
 */
void
sf_standby_cycle(bool force)
{
	XLogRecPtr	replay = GetXLogReplayRecPtr(NULL);
	SlotRow    *rows;
	SlotRow    *upstream = NULL;
	const char **wanted;
	int			nrows;
	int			nwanted = 0;
	HASH_SEQ_STATUS seq;
	CopyEntry  *entry;
	ListCell   *lc;

	/* first, since replay does not move while it waits for us */
	sf_yield_to_replay();

	if (!last_pass_noted && RecoveryInProgress())
	{
		sf_durable_write(SF_LAST_PASS_FILE, "", 0);
		last_pass_noted = true;
	}

	if (!force && replay == last_replay && copy_entries != NULL)
		return;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rows = sf_table_read(&nrows, true);
	PopActiveSnapshot();

	for (int i = 0; i < nrows; i++)
		if (PrimarySlotName && strcmp(NameStr(rows[i].name), PrimarySlotName) == 0 &&
			rows[i].system_identifier == GetSystemIdentifier())
			upstream = &rows[i];

	sf_entries_begin();
	wanted = palloc(sizeof(const char *) * Max(nrows, 1));
	for (int i = 0; i < nrows; i++)
	{
		entry = sf_entry(NameStr(rows[i].name));
		entry->foreign = rows[i].system_identifier != GetSystemIdentifier();
		if (entry->foreign)
			sf_ignore_foreign_row(&rows[i], entry);
		else
		{
			wanted[nwanted++] = NameStr(rows[i].name);
			if (!sf_sync_held_copy(&rows[i], upstream, entry))
				sf_guarded(entry, &rows[i], upstream);
		}
	}

	/* once for all copies, after those that needed it were saved */
	sf_move_horizons();

	/* each on its own too: one that a client holds must not stop the rest */
	foreach(lc, sf_orphan_copies(wanted, nwanted))
		sf_guarded(sf_entry(lfirst(lc)), NULL, NULL);
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
 * Make sure copy_entries exists, and mark every entry not seen yet, before
 * a cycle goes through the rows.
 */
static void
sf_entries_begin(void)
{
	HASH_SEQ_STATUS seq;
	CopyEntry  *entry;

	if (copy_entries == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(CopyEntry);
		ctl.hcxt = TopMemoryContext;
		copy_entries = hash_create("slot_failover copies", 64, &ctl,
								   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}

	hash_seq_init(&seq, copy_entries);
	while ((entry = hash_seq_search(&seq)) != NULL)
		entry->seen = false;
}

/*
 * The entry of a name that this cycle has seen: a row's, or an orphan
 * copy's (whose state the status view does not show, since it has no
 * row, but which says an error once as a row's does).
 */
static CopyEntry *
sf_entry(const char *name)
{
	CopyEntry  *entry;
	bool		found;

	entry = hash_search(copy_entries, name, HASH_ENTER, &found);
	if (!found)
	{
		entry->state = SF_COPY_WAITING;
		entry->reason[0] = '\0';
		entry->had_copy = false;
		entry->slot = NULL;
		entry->changed_at = GetCurrentTimestamp();
	}
	entry->seen = true;
	return entry;
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
	memset(local, 0, sizeof(LocalSlot));
	local->exists = sf_slot_read(name, &local->state);
	if (local->exists)
	{
		local->identity = sf_marker_read(name, &local->waiting);
		local->owned = local->identity != 0;
	}
	return local->exists;
}

/*
 * Read what sf_decide_copy needs to know besides the row.  A logical row's
 * database is locked first (sf_lock_database), since a copy in it may be
 * touched only under that lock; if the database is gone, nothing else is
 * read but the local slot, which may be a copy left there; if replay is
 * dropping it, not even that (the copy is replay's).
 */
static void
sf_gather_facts(SlotRow *row, SlotRow *upstream, CopyFacts *facts)
{
	memset(facts, 0, sizeof(CopyFacts));
	facts->database_exists = !row->logical ||
		sf_lock_database(row->datoid, &facts->database_dropping);
	if (facts->database_dropping)
		return;
	sf_find_local(NameStr(row->name), &facts->local);
	if (!facts->database_exists)
		return;
	facts->is_primary_slot = PrimarySlotName != NULL &&
		strcmp(NameStr(row->name), PrimarySlotName) == 0;
	facts->logical_blocker = row->logical ?
		sf_logical_blocker(facts->local.exists && !facts->local.waiting) : NULL;
	facts->upstream = upstream;
}

/*
 * Fill in a decision; the reason is formatted as sf_set_state would.
 */
static void
sf_set_decision(CopyDecision *decision, CopyAction action,
				SlotFailoverCopyState state, const char *fmt,...)
{
	va_list		args;

	decision->action = action;
	decision->state = state;
	va_start(args, fmt);
	vsnprintf(decision->reason, sizeof(decision->reason), fmt, args);
	va_end(args);
}

/*
 * What a row's copy needs, and the state to report: the rules of README's
 * "On a standby", one branch each, numbered as there and in that order;
 * the first that applies decides.  A pure function of its arguments, so
 * that it can be tested case by case (slot_failover_decide_for_test): no
 * locks, no messages, no change to anything but *decision; sf_sync_row
 * carries it out.  Long because it is the whole list of rules, kept in
 * one place so that it reads as the README's list.
 *
 * SF_DO_REPLACE and SF_DO_CREATE change the local slot, and set no state
 * (but for a copy invalidated here, whose reason the caller reports before
 * it drops the copy): the caller carries them out and asks again with the
 * new local slot, so that a new copy's waiting is judged against the
 * reservation it got.
 */
static void
sf_decide_copy(const SlotRow *row, const CopyFacts *facts,
			   CopyDecision *decision)
{
	const LocalSlot *local = &facts->local;
	const SlotRow *upstream = facts->upstream;

	memset(decision, 0, sizeof(CopyDecision));

	/* 1: the database is gone; a copy left in it (made there after replay
	 * dropped its slots, before the commit) goes, unless replay drops it */
	if (!facts->database_exists)
		sf_set_decision(decision,
						local->exists && local->owned ? SF_DO_DROP : SF_DO_NONE,
						SF_COPY_ERROR,
						"database with OID %u of the slot does not exist on this standby",
						row->datoid);
	/* 2: a slot that is not ours, maybe core's synced slot (17+) */
	else if (local->exists && !local->owned)
		sf_set_decision(decision, SF_DO_CONFLICT, SF_COPY_CONFLICT, "%s",
						local->state.core_synced ?
						"PostgreSQL's slot synchronization keeps a slot of this name on this standby (synced = true)" :
						"a slot of this name exists on this standby and was not created by slot_failover");
	/* 3: a slot dropped and created again on the primary is a new slot */
	else if (local->exists && local->identity != row->identity)
		decision->action = SF_DO_REPLACE;
	/* 3: a copy invalidated here holds nothing; make it anew */
	else if (local->exists && local->state.invalidated)
		sf_set_decision(decision, SF_DO_REPLACE, SF_COPY_ERROR, "%s",
						"the copy on this standby was invalidated (its WAL or, on 16+, catalog rows it needed were removed); it is made anew");
	/* 4: our own upstream slot would pin WAL for nobody after promotion */
	else if (facts->is_primary_slot)
		sf_set_decision(decision, SF_DO_DROP, SF_COPY_WAITING,
						"this is the slot this standby streams from (primary_slot_name); it is not copied");
	/* 5: nothing to hold */
	else if (row->invalidated || XLogRecPtrIsInvalid(row->restart_lsn))
		sf_set_decision(decision, SF_DO_DROP, SF_COPY_ERROR, "%s",
						row->invalidated ? "the slot is invalidated on the primary" :
						"the slot reserves no WAL on the primary");
	/* 6: the primary would not keep the copy's catalog rows */
	else if (row->logical && facts->logical_blocker != NULL)
		sf_set_decision(decision, SF_DO_BLOCKED, SF_COPY_WAITING, "%s",
						facts->logical_blocker);
	/* 7: create it, then ask again */
	else if (!local->exists)
		decision->action = SF_DO_CREATE;
	/* 8: a ready copy only moves forward */
	else if (!local->waiting)
		sf_set_decision(decision, SF_DO_ADVANCE, SF_COPY_READY, "%s", "");
	/* 9: the row does not hold all the copy reserved yet */
	else if (row->restart_lsn < local->state.restart_lsn ||
			 (row->logical &&
			  (!TransactionIdIsValid(row->catalog_xmin) ||
			   TransactionIdPrecedes(row->catalog_xmin, local->state.catalog_xmin))))
	{
		if (row->logical)
			sf_set_decision(decision, SF_DO_WAIT, SF_COPY_WAITING,
							"waiting for the primary's slot to reach this standby's reservation (restart_lsn %X/%X, catalog_xmin %u); its consumer must advance it",
							LSN_FORMAT_ARGS(local->state.restart_lsn), local->state.catalog_xmin);
		else
			sf_set_decision(decision, SF_DO_WAIT, SF_COPY_WAITING,
							"waiting for the primary's slot to reach this standby's reservation (restart_lsn %X/%X)",
							LSN_FORMAT_ARGS(local->state.restart_lsn));
	}
	/* 10: decoding could not start at the row's restart_lsn */
	else if (row->logical && row->snapshot == NULL)
		sf_set_decision(decision, SF_DO_WAIT, SF_COPY_WAITING,
						"waiting for the primary to record the decoding snapshot of restart_lsn %X/%X; its consumer must advance the slot",
						LSN_FORMAT_ARGS(row->restart_lsn));
	/* 11: the primary does not hold the copy's catalog_xmin for us yet */
	else if (row->logical && upstream != NULL &&
			 (!TransactionIdIsValid(upstream->catalog_xmin) ||
			  TransactionIdPrecedes(local->state.catalog_xmin, upstream->catalog_xmin)))
		sf_set_decision(decision, SF_DO_WAIT, SF_COPY_WAITING,
						"waiting for the primary to hold catalog_xmin %u for this standby (slot \"%s\" shows %u)",
						local->state.catalog_xmin, NameStr(upstream->name),
						upstream->catalog_xmin);
	/* 12: everything the row needs is held here */
	else
		sf_set_decision(decision, SF_DO_MAKE_READY, SF_COPY_READY, "%s", "");
}

/*
 * sf_sync_row for a row, or without one the drop of an orphan copy named
 * by the entry (sf_drop_orphan), in a subtransaction: an error, such as a
 * copy that a client holds, is recorded as that entry's state and does
 * not stop the cycle.  Only rows that need more than moving a held copy
 * in place get here, so healthy rows pay no subtransaction.  The WARNING
 * is said once per error text, as the view shows it.
 */
static void
sf_guarded(CopyEntry *entry, SlotRow *row, SlotRow *upstream)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		if (row != NULL)
			sf_sync_row(row, upstream, entry);
		else
			sf_drop_orphan(NameStr(entry->name));
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

		if (sf_set_state(entry, SF_COPY_ERROR, "%s", edata->message))
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("could not synchronize replication slot \"%s\"",
							NameStr(entry->name)),
					 errdetail_internal("%s", edata->message),
					 edata->hint ? errhint("%s", edata->hint) : 0));
		entry->slot = NULL;
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * Bring the local copy of one row in line with it: gather the facts,
 * decide (sf_decide_copy), and carry the decision out, with its messages.
 * The messages said once (a conflict, a copy somebody dropped, settings
 * that block logical copies) depend on what the entry remembers, so they
 * are said here, not decided.  A decision that keeps a copy is finished by
 * sf_keep_copy.
 */
static void
sf_sync_row(SlotRow *row, SlotRow *upstream, CopyEntry *entry)
{
	const char *name = NameStr(row->name);
	CopyFacts	facts;
	CopyDecision decision;

	entry->slot = NULL;
	sf_gather_facts(row, upstream, &facts);
	sf_decide_copy(row, &facts, &decision);

	if (decision.action == SF_DO_CONFLICT && entry->state != SF_COPY_CONFLICT)
		ereport(WARNING,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("replication slot \"%s\" exists on this standby and was not created by slot_failover",
						name),
				 errdetail("The primary's slot of that name is not copied while it exists."),
				 errhint("Drop or rename the local slot if this standby should keep a copy.")));
	if (decision.action == SF_DO_NONE || decision.action == SF_DO_CONFLICT)
	{
		sf_set_state(entry, decision.state, "%s", decision.reason);
		return;
	}

	sf_notice_lost_copy(row, entry, &facts.local);

	if (decision.action == SF_DO_REPLACE)
	{
		sf_drop_copy(name);
		/* said once, after the drop: the copy is gone now */
		if (decision.reason[0] != '\0')
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("copy of replication slot \"%s\" was invalidated on this standby",
							name),
					 errdetail("Its WAL was removed. The copy was dropped; a new one must become ready before this standby can take over the slot."),
					 errhint("Raise \"max_slot_wal_keep_size\" on this standby if its copies lag this much.")));
		facts.local.exists = false;
		sf_decide_copy(row, &facts, &decision);
	}

	if (decision.action == SF_DO_DROP)
	{
		if (facts.local.exists)
			sf_drop_copy(name);
		sf_set_state(entry, decision.state, "%s", decision.reason);
		return;
	}

	/* again after an error, which lets go of every copy */
	if (facts.local.exists)
		sf_hold_copy(name);

	/* the last pass makes no new copy: it would only be dropped */
	if (finishing && decision.action == SF_DO_CREATE)
	{
		sf_set_state(entry, SF_COPY_WAITING, "%s",
					 "recovery ended before the copy was made");
		return;
	}

	if (decision.action == SF_DO_BLOCKED)
	{
		if (warned_blocker != facts.logical_blocker && !finishing)
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("logical replication slots cannot be made ready on this standby"),
					 errdetail_internal("%s", facts.logical_blocker)));
		warned_blocker = facts.logical_blocker;
		sf_set_state(entry, decision.state, "%s", decision.reason);
		return;
	}
	/* a ready copy moving says nothing of the settings */
	if (row->logical && facts.logical_blocker == NULL)
		warned_blocker = NULL;

	sf_keep_copy(row, entry, &facts, &decision);
}

/*
 * A copy that the last cycles had is not there: somebody dropped it while
 * the worker did not hold it.  Say so, since the new copy starts waiting
 * again.  From here the entry has no copy until sf_keep_copy says
 * otherwise.
 */
static void
sf_notice_lost_copy(SlotRow *row, CopyEntry *entry, const LocalSlot *local)
{
	if (!local->exists &&
		(entry->state == SF_COPY_READY ||
		 (entry->state == SF_COPY_WAITING && entry->had_copy)))
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("copy of replication slot \"%s\" was dropped on this standby",
						NameStr(row->name)),
				 errdetail("slot_failover creates it again. The new copy must become ready before this standby can take over the slot.")));
	entry->had_copy = false;
}

/*
 * The end of sf_sync_row for a row whose copy stays: create the copy if
 * the decision says so, and decide again on the reservation it got; then
 * leave a waiting copy as it is, or make it ready, or move a ready one.
 */
static void
sf_keep_copy(SlotRow *row, CopyEntry *entry, CopyFacts *facts,
			 CopyDecision *decision)
{
	if (decision->action == SF_DO_CREATE)
	{
		sf_create_copy(row);
		sf_find_local(NameStr(row->name), &facts->local);
		sf_decide_copy(row, facts, decision);
	}
	entry->had_copy = true;

	if (decision->action != SF_DO_WAIT &&
		decision->action != SF_DO_MAKE_READY &&
		decision->action != SF_DO_ADVANCE)
		elog(ERROR, "unexpected decision %d for the copy of replication slot \"%s\"",
			 (int) decision->action, NameStr(row->name));
	if (decision->action == SF_DO_MAKE_READY)
	{
		entry->slot = sf_advance_copy(row, true);
		ereport(LOG,
				(errmsg("copy of replication slot \"%s\" is ready for failover",
						NameStr(row->name))));
	}
	else if (decision->action == SF_DO_ADVANCE)
		entry->slot = sf_advance_copy(row, false);
	if (entry->slot != NULL)
		entry->identity = row->identity;

	sf_set_state(entry, decision->state, "%s", decision->reason);
}

/*
 * The common case, without a subtransaction, marker read or slot search: a
 * copy that was ready after the last cycle, that we still hold, and whose
 * row names the same slot, moved in place (sf_advance_held_copy).  Returns
 * false if the row needs sf_sync_row.  Its conditions are those under
 * which sf_decide_copy would say SF_DO_ADVANCE for such a copy (rules 3 to
 * 6 do not apply); any doubt goes to sf_sync_row, which asks it.
 */
static bool
sf_sync_held_copy(SlotRow *row, SlotRow *upstream, CopyEntry *entry)
{
	if (entry->slot == NULL || entry->state != SF_COPY_READY ||
		row == upstream || row->identity != entry->identity ||
		row->invalidated || XLogRecPtrIsInvalid(row->restart_lsn) ||
		(row->logical && sf_logical_blocker(true) != NULL))
		return false;

	return sf_advance_held_copy(entry->slot, row);
}

/*
 * A row that another cluster wrote, for instance one that a subscription to
 * a publication FOR ALL TABLES brought to our primary: it says nothing about
 * the slots of our primary, so it gets no copy, and a copy of that name
 * loses its row (sf_drop_orphan).  One WARNING while the row stays.
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
 * Why logical copies cannot be, or become, ready on this standby, or NULL
 * (rule 6).  A copy's catalog rows are kept on the primary by this
 * standby's physical slot there, which holds the catalog_xmin that
 * hot_standby_feedback last sent: settings that stop the feedback, or
 * clear it, leave them unprotected.  Not streaming, with those settings
 * right, matters only to a copy that is not ready yet, whose reservation
 * must still reach the primary: the slot there keeps what a ready copy
 * needs while the primary is away (ready_copy).
 */
static const char *
sf_logical_blocker(bool ready_copy)
{
	if (wal_level < WAL_LEVEL_LOGICAL)
		return "\"wal_level\" is not \"logical\" on this standby";
	if (!ready_copy && !WalRcvStreaming())
		return "this standby does not stream from a primary, so it cannot hold catalog rows there";
	if (!hot_standby_feedback)
		return "\"hot_standby_feedback\" is off, so the primary may remove catalog rows the copy needs";
	if (PrimarySlotName == NULL || PrimarySlotName[0] == '\0')
		return "\"primary_slot_name\" is not set, so the primary does not keep this standby's catalog_xmin";
	return NULL;
}

/*
 * Record the state of a row's copy, and when it changed.  The reason is cut
 * to what the status board holds, at a character boundary.  Returns
 * whether the state or the reason changed.
 */
static bool
sf_set_state(CopyEntry *entry, SlotFailoverCopyState state, const char *fmt,...)
{
	char		reason[SF_REASON_LEN];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(reason, sizeof(reason), fmt, args);
	va_end(args);
	reason[pg_mbcliplen(reason, strlen(reason), SF_REASON_LEN - 1)] = '\0';

	if (entry->state == state && strcmp(entry->reason, reason) == 0)
		return false;
	entry->state = state;
	strlcpy(entry->reason, reason, SF_REASON_LEN);
	entry->changed_at = GetCurrentTimestamp();
	return true;
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
 * Recovery has ended: bring every ready copy to its row, drop the copies
 * that never became ready, let go of the others, and forget the standby's
 * state.  Ready copies stay, as ordinary slots.
 *
 * With last_pass, which the worker asks for when it saw recovery end or
 * finds SF_LAST_PASS_FILE (it started after a crash), the
 * table is first read once more, as a forced cycle would: it holds exactly
 * what replay brought, since nothing writes it before the worker takes the
 * primary's role, and rows replayed since the last cycle must not be lost.
 * The pass is the same per-row path (each row in its own subtransaction
 * unless it only moves a held copy in place), but it makes no new copy,
 * which could only be dropped; a waiting logical copy is blocked, since
 * the standby does not stream any more, and is then dropped; a ready one
 * is not (sf_logical_blocker).  An error outside the rows is reported and
 * does not stop the promotion: the copies then stay where the last cycle
 * left them, still held until the waiting ones are dropped.  The copies
 * that moved are then saved (CheckPointReplicationSlots, which logs a
 * write that fails, as at a checkpoint, and leaves it to the next one),
 * so that a crash after promotion does not take them back (a crash before
 * this finds SF_LAST_PASS_FILE, and the next worker makes the pass).
 */
void
sf_standby_finish(bool last_pass)
{
	if (last_pass)
	{
		MemoryContext oldcxt = CurrentMemoryContext;

		finishing = true;
		PG_TRY();
		{
			sf_standby_cycle(true);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			finishing = false;
			MemoryContextSwitchTo(oldcxt);
			edata = CopyErrorData();
			FlushErrorState();
			LWLockReleaseAll();
			if (MyReplicationSlot != NULL)
			{
				NameData	name = MyReplicationSlot->data.name;

				ReplicationSlotRelease();
				sf_hold_copy(NameStr(name));
			}

			/*
			 * The copies stay held, so that no client takes one that was
			 * not ready before it is dropped; replay is over, so that they
			 * are held without their databases' locks, which the abort
			 * releases, matters no more.
			 */
			AbortOutOfAnyTransaction();
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("could not bring the copies of replication slots to the rows replayed before promotion"),
					 errdetail_internal("%s", edata->message)));
			FreeErrorData(edata);
		}
		PG_END_TRY();
		finishing = false;
		MemoryContextSwitchTo(oldcxt);
		sf_checkpoint_slots();
	}

	sf_drop_waiting_copies();
	sf_release_held_copies();
	sf_standby_forget();
	sf_status_publish(NULL, 0);

	if (sf_standby_last_pass_pending())
		(void) durable_unlink(SF_LAST_PASS_FILE, ERROR);
	last_pass_noted = false;
}

/*
 * Has this node kept copies as a standby, and not yet brought them to the
 * rows replayed at the end of recovery?  For the worker, which then asks
 * sf_standby_finish for the last pass even if it did not see recovery
 * itself (it started after a crash, or after the worker that did exited).
 */
bool
sf_standby_last_pass_pending(void)
{
	struct stat st;

	if (stat(SF_LAST_PASS_FILE, &st) == 0)
		return true;
	if (errno != ENOENT)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", SF_LAST_PASS_FILE)));
	return false;
}

/*
 * slot_failover_decide_for_test(...): sf_decide_copy on facts given as
 * arguments, returning (action, state, reason).
 *
 * It exists so that a pg_regress test (sql/decide.sql) can check every rule
 * of the decision case by case, which a running standby reaches only with
 * elaborate set-ups, if at all.  It is part of no extension script, so it
 * is not part of the SQL surface: the test declares it for itself, in
 * pg_temp, as a superuser.  It reads and changes nothing.
 *
 * Arguments, in order: the row (slot_name, logical, identity, datoid,
 * restart_lsn, catalog_xmin, invalidated, whether it has a snapshot), this
 * standby (database_exists, primary_slot_name or NULL, the logical blocker
 * or NULL, the catalog_xmin of primary_slot_name's row or NULL if there is
 * none), and the local slot (local_identity: NULL if there is none, 0 if
 * it has no marker; local_waiting, local_restart_lsn, local_catalog_xmin,
 * local_invalidated).  state and reason are NULL when the decision is
 * taken again after the action and reports nothing before it.  Long only because it unpacks its arguments one by one.
 */
Datum
slot_failover_decide_for_test(PG_FUNCTION_ARGS)
{
	static const char *const state_names[] = {"ready", "waiting", "conflict", "error"};
	SlotRow		row;
	SlotRow		upstream;
	CopyFacts	facts;
	CopyDecision decision;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (PG_NARGS() != 17)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("function slot_failover_decide_for_test takes 17 arguments, not %d",
						PG_NARGS())));
	for (int i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i) && (i <= 8 || (i >= 13 && !PG_ARGISNULL(12))))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of slot_failover_decide_for_test must not be null",
							i + 1)));

	memset(&row, 0, sizeof(row));
	namestrcpy(&row.name, NameStr(*PG_GETARG_NAME(0)));
	row.logical = PG_GETARG_BOOL(1);
	row.identity = PG_GETARG_INT64(2);
	row.datoid = PG_GETARG_OID(3);
	row.restart_lsn = PG_GETARG_LSN(4);
	row.catalog_xmin = PG_GETARG_TRANSACTIONID(5);
	row.invalidated = PG_GETARG_BOOL(6);
	if (PG_GETARG_BOOL(7))
	{
		/* only whether there is a snapshot matters */
		row.snapshot = palloc(VARHDRSZ);
		SET_VARSIZE(row.snapshot, VARHDRSZ);
	}

	memset(&facts, 0, sizeof(facts));
	facts.database_exists = PG_GETARG_BOOL(8);
	facts.is_primary_slot = !PG_ARGISNULL(9) &&
		strcmp(NameStr(row.name), NameStr(*PG_GETARG_NAME(9))) == 0;
	if (!PG_ARGISNULL(10))
		facts.logical_blocker = text_to_cstring(PG_GETARG_TEXT_PP(10));
	if (!PG_ARGISNULL(9) && !PG_ARGISNULL(11))
	{
		memset(&upstream, 0, sizeof(upstream));
		namestrcpy(&upstream.name, NameStr(*PG_GETARG_NAME(9)));
		upstream.catalog_xmin = PG_GETARG_TRANSACTIONID(11);
		facts.upstream = &upstream;
	}
	if (!PG_ARGISNULL(12))
	{
		facts.local.exists = true;
		facts.local.identity = PG_GETARG_INT64(12);
		facts.local.owned = facts.local.identity != 0;
		facts.local.waiting = PG_GETARG_BOOL(13);
		facts.local.state.restart_lsn = PG_GETARG_LSN(14);
		facts.local.state.catalog_xmin = PG_GETARG_TRANSACTIONID(15);
		facts.local.state.invalidated = PG_GETARG_BOOL(16);
	}

	sf_decide_copy(&row, &facts, &decision);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = CStringGetTextDatum(copy_action_names[decision.action]);
	if (decision.action == SF_DO_CREATE ||
		(decision.action == SF_DO_REPLACE && decision.reason[0] == '\0'))
		nulls[1] = nulls[2] = true;
	else
	{
		values[1] = CStringGetTextDatum(state_names[decision.state]);
		values[2] = CStringGetTextDatum(decision.reason);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
