/*-------------------------------------------------------------------------
 *
 * primary.c
 *		The primary's side: mark() and unmark(), and the worker's cycle
 *		that keeps slot_failover.slots equal to the marked slots.
 *
 * A row of slot_failover.slots is an order to every standby to keep a copy
 * of one replication slot, pinning WAL and catalog rows for it.  The row
 * names one incarnation of the slot: mark() draws a random identity and
 * writes it both into the row and into the slot's marker file (marker.c).
 * A slot dropped and created again under the same name has no marker: the
 * worker then deletes the row, and the new slot is not marked until
 * somebody marks it.  unmark() removes the marker when it commits, since
 * a slot with a marker belongs to slot_failover.
 *
 * The worker keeps in its own memory what each row says (marks, a hash
 * table keyed by slot name).  It reloads it from the table when mark() or
 * unmark() ended a transaction (SlotFailoverShared.marks_changed), after an
 * error, and when the node changes role.  A cycle reads the slot array
 * under ReplicationSlotControlLock (shared, no I/O while held), checks that
 * each marked slot still has its marker, and compares.  Only when a row
 * must change does it start a transaction, and it writes all changes of
 * the cycle with one UPDATE and one DELETE.
 *
 * Our own writes move the slots we watch: a streaming standby confirms the
 * WAL of our UPDATE, a logical walsender confirms past it, and our xid
 * moves the xmin the standby feeds back.  Recording that would write again,
 * for ever, on an idle server.  So a cycle ignores movement that consumed
 * nothing but our own WAL and WAL without transactions (checkpoints,
 * running-xacts records, vacuum): "frontier" is the insert position seen
 * the last time another transaction with an xid had ended since we looked
 * (the server's xact completion counter moved), and positions are compared
 * only up to it; xmin and catalog_xmin changes count only if such a
 * transaction ended since our last write.  What this leaves behind is safe:
 * a row that is a little behind its slot makes a standby keep a little
 * more WAL than needed.  sync() asks for an exact cycle, which writes every
 * difference.
 *
 * Crash safety: every change of a row is a normal transaction.  A crash
 * between writing a marker and committing mark() leaves a marker whose
 * identity no row has, which is harmless; the next mark() overwrites it.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  primary.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "compat.h"
#include "slot_failover.h"

/* A replication slot's state, as read from the slot array. */
typedef struct SlotState
{
	bool		persistent;
	bool		logical;
	Oid			database;
	NameData	plugin;
	bool		two_phase;
	XLogRecPtr	restart_lsn;
	XLogRecPtr	confirmed_flush;
	TransactionId xmin;
	TransactionId catalog_xmin;
	bool		invalidated;
} SlotState;

/* What the row of one marked slot says, in the worker's memory. */
typedef struct MarkedSlot
{
	NameData	name;			/* hash key */
	int64		identity;		/* slot_identity of the row */
	bool		marker_matches; /* marker file had this identity at load */
	XLogRecPtr	restart_lsn;
	XLogRecPtr	confirmed_flush;
	TransactionId xmin;
	TransactionId catalog_xmin;
	bool		invalidated;
	SlotState  *now;			/* during a cycle: the slot, or NULL */
} MarkedSlot;

PG_FUNCTION_INFO_V1(slot_failover_mark);
PG_FUNCTION_INFO_V1(slot_failover_unmark);

static void sf_check_change_call(Name slot_name);
static bool sf_read_slot(const char *name, SlotState *state);
static void sf_copy_slot(ReplicationSlot *slot, SlotState *state);
static void sf_spi_begin_as_owner(Oid relid, Oid *save_userid, int *save_sec);
static void sf_spi_end_as_owner(Oid save_userid, int save_sec);
static void sf_xact_callback(XactEvent event, void *arg);
static void sf_load_marks(uint64 generation);
static void sf_observe_activity(void);
static bool sf_differs(MarkedSlot *row, SlotState *now);
static bool sf_worth_writing(MarkedSlot *row, SlotState *now);
static bool sf_xmin_retreated(TransactionId recorded, TransactionId now);
static int	sf_write_changes(MarkedSlot **updates, SlotState *states,
							 int nupdates, MarkedSlot **deletes, int ndeletes);
static Datum sf_array(Datum *values, bool *nulls, int n, Oid elmtype);

/* A slot unmarked by this transaction, whose marker goes at commit. */
typedef struct UnmarkedSlot
{
	NameData	name;
	int64		identity;
} UnmarkedSlot;

/* did this transaction run mark() or unmark()? */
static bool sf_marks_dirty = false;
static List *sf_unmarked = NIL;	/* of UnmarkedSlot, in TopTransactionContext */
static bool sf_xact_callback_registered = false;

/* the worker's copy of the table; NULL until loaded */
static HTAB *marks = NULL;
static uint64 marks_generation = 0;
static bool said_not_installed = false;

/* see "Our own writes" in the file header */
static uint64 seen_completions = 0;
static XLogRecPtr frontier = InvalidXLogRecPtr;
static bool foreign_since_write = true;

/*
 * slot_failover.mark(slot_name): record the slot in the table, in the
 * caller's transaction, so that every standby that replays the commit
 * keeps a copy of it.
 */
Datum
slot_failover_mark(PG_FUNCTION_ARGS)
{
	Name		slot_name = PG_ARGISNULL(0) ? NULL : PG_GETARG_NAME(0);
	SlotState	state;
	Oid			relid;
	Oid			save_userid;
	int			save_sec;
	int64		row_identity = 0;
	int64		identity;
	bool		found;
	NameData	database_name;
	bytea	   *snapshot = NULL;
	Datum		values[15];
	char		nulls[15];
	Oid			select_types[1] = {NAMEOID};
	Datum		select_values[1];
	Oid			insert_types[15] = {NAMEOID, INT8OID, TEXTOID, OIDOID, NAMEOID,
		NAMEOID, BOOLOID, PG_LSNOID, PG_LSNOID, XIDOID, XIDOID, BOOLOID,
	INT8OID, INT4OID, BYTEAOID};
	int			ret;

	sf_check_change_call(slot_name);
	relid = sf_table_oid();

	sf_spi_begin_as_owner(relid, &save_userid, &save_sec);
	select_values[0] = NameGetDatum(slot_name);
	ret = SPI_execute_with_args("SELECT slot_identity FROM slot_failover.slots"
								" WHERE slot_name OPERATOR(pg_catalog.=) $1",
								1, select_types, select_values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args returned %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		bool		isnull;

		row_identity = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc,
												   1, &isnull));
	}

	/*
	 * Look at the slot and write its marker without letting it be dropped
	 * or created in between.
	 */
	LWLockAcquire(ReplicationSlotAllocationLock, LW_SHARED);
	found = sf_read_slot(NameStr(*slot_name), &state);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("replication slot \"%s\" does not exist",
						NameStr(*slot_name))));
	if (!state.persistent)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot mark temporary replication slot \"%s\" for failover",
						NameStr(*slot_name)),
				 errdetail("A temporary slot is dropped when its session ends; no standby could continue from it.")));
	if (row_identity != 0 && sf_marker_read(NameStr(*slot_name), NULL) == row_identity)
	{
		LWLockRelease(ReplicationSlotAllocationLock);
		sf_spi_end_as_owner(save_userid, save_sec);
		ereport(NOTICE,
				(errmsg("replication slot \"%s\" is already marked for failover",
						NameStr(*slot_name))));
		PG_RETURN_VOID();
	}
	do
	{
		if (!pg_strong_random(&identity, sizeof(identity)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random slot identity")));
		identity &= PG_INT64_MAX;
	} while (identity == 0);
	sf_marks_dirty = true;
	sf_marker_write(NameStr(*slot_name), identity, false);
	LWLockRelease(ReplicationSlotAllocationLock);

	if (state.logical)
	{
		namestrcpy(&database_name, get_database_name(state.database));
		snapshot = sf_snapshot_read(state.restart_lsn);
	}

	memset(nulls, ' ', sizeof(nulls));
	values[0] = NameGetDatum(slot_name);
	values[1] = Int64GetDatum(identity);
	values[2] = CStringGetTextDatum(state.logical ? "logical" : "physical");
	values[3] = ObjectIdGetDatum(state.database);
	nulls[3] = state.logical ? ' ' : 'n';
	values[4] = NameGetDatum(&database_name);
	nulls[4] = state.logical ? ' ' : 'n';
	values[5] = NameGetDatum(&state.plugin);
	nulls[5] = state.logical ? ' ' : 'n';
	values[6] = BoolGetDatum(state.two_phase);
	values[7] = LSNGetDatum(state.restart_lsn);
	nulls[7] = XLogRecPtrIsInvalid(state.restart_lsn) ? 'n' : ' ';
	values[8] = LSNGetDatum(state.confirmed_flush);
	nulls[8] = XLogRecPtrIsInvalid(state.confirmed_flush) ? 'n' : ' ';
	values[9] = TransactionIdGetDatum(state.catalog_xmin);
	nulls[9] = TransactionIdIsValid(state.catalog_xmin) ? ' ' : 'n';
	values[10] = TransactionIdGetDatum(state.xmin);
	nulls[10] = TransactionIdIsValid(state.xmin) ? ' ' : 'n';
	values[11] = BoolGetDatum(state.invalidated);
	values[12] = Int64GetDatum((int64) GetSystemIdentifier());
	values[13] = Int32GetDatum((int32) sf_insert_timeline());
	values[14] = PointerGetDatum(snapshot);
	nulls[14] = snapshot ? ' ' : 'n';

	ret = SPI_execute_with_args("INSERT INTO slot_failover.slots AS s"
								" (slot_name, slot_identity, slot_type, datoid, database,"
								"  plugin, two_phase, restart_lsn, confirmed_flush_lsn,"
								"  catalog_xmin, slot_xmin, invalidated, system_identifier,"
								"  timeline, snapshot, marked_at, updated_at)"
								" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
								"  $13, $14, $15,"
								"  pg_catalog.now(), pg_catalog.now())"
								" ON CONFLICT (slot_name) DO UPDATE SET"
								"  slot_identity = excluded.slot_identity,"
								"  slot_type = excluded.slot_type,"
								"  datoid = excluded.datoid,"
								"  database = excluded.database,"
								"  plugin = excluded.plugin,"
								"  two_phase = excluded.two_phase,"
								"  restart_lsn = excluded.restart_lsn,"
								"  confirmed_flush_lsn = excluded.confirmed_flush_lsn,"
								"  catalog_xmin = excluded.catalog_xmin,"
								"  slot_xmin = excluded.slot_xmin,"
								"  invalidated = excluded.invalidated,"
								"  system_identifier = excluded.system_identifier,"
								"  timeline = excluded.timeline,"
								"  snapshot = excluded.snapshot,"
								"  marked_at = excluded.marked_at,"
								"  updated_at = excluded.updated_at",
								15, insert_types, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_with_args returned %s", SPI_result_code_string(ret));
	sf_spi_end_as_owner(save_userid, save_sec);

	PG_RETURN_VOID();
}

/*
 * slot_failover.unmark(slot_name): delete the slot's row, in the caller's
 * transaction; standbys drop their copy once they replay the commit.
 */
Datum
slot_failover_unmark(PG_FUNCTION_ARGS)
{
	Name		slot_name = PG_ARGISNULL(0) ? NULL : PG_GETARG_NAME(0);
	Oid			relid;
	Oid			save_userid;
	int			save_sec;
	Oid			types[1] = {NAMEOID};
	Datum		values[1];
	int			ret;

	sf_check_change_call(slot_name);
	relid = sf_table_oid();

	sf_spi_begin_as_owner(relid, &save_userid, &save_sec);
	values[0] = NameGetDatum(slot_name);
	ret = SPI_execute_with_args("DELETE FROM slot_failover.slots"
								" WHERE slot_name OPERATOR(pg_catalog.=) $1"
								" RETURNING slot_identity",
								1, types, values, NULL, false, 0);
	if (ret != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "SPI_execute_with_args returned %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("replication slot \"%s\" is not marked for failover",
						NameStr(*slot_name))));
	else
	{
		UnmarkedSlot *unmarked;
		bool		isnull;
		MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);

		unmarked = palloc(sizeof(UnmarkedSlot));
		unmarked->name = *slot_name;
		unmarked->identity =
			DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
		sf_unmarked = lappend(sf_unmarked, unmarked);
		MemoryContextSwitchTo(oldcxt);
	}
	sf_marks_dirty = true;
	sf_spi_end_as_owner(save_userid, save_sec);

	PG_RETURN_VOID();
}

/*
 * Checks of mark() and unmark(), before anything is read or written.
 */
static void
sf_check_change_call(Name slot_name)
{
	sf_check_function_call(true);

	if (slot_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("replication slot name must not be null")));
	(void) ReplicationSlotValidateName(NameStr(*slot_name), ERROR);

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recovery is in progress"),
				 errhint("Mark and unmark slots on the primary; standbys follow it through WAL.")));

	if (!sf_xact_callback_registered)
	{
		RegisterXactCallback(sf_xact_callback, NULL);
		sf_xact_callback_registered = true;
	}
}

/*
 * Tell the worker when a transaction that marked or unmarked slots ends.
 * An abort counts too: it may leave a marker file behind that no row has,
 * and the worker reads markers when it reloads.
 */
static void
sf_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (sf_marks_dirty)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has marked or unmarked replication slots")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (sf_unmarked != NIL)
			{
				ListCell   *lc;

				LWLockAcquire(ReplicationSlotAllocationLock, LW_SHARED);
				foreach(lc, sf_unmarked)
				{
					UnmarkedSlot *unmarked = lfirst(lc);

					sf_marker_remove(NameStr(unmarked->name), unmarked->identity);
				}
				LWLockRelease(ReplicationSlotAllocationLock);
			}
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (sf_marks_dirty)
				sf_wake_worker();
			sf_marks_dirty = false;
			sf_unmarked = NIL;
			break;
		default:
			break;
	}
}

/*
 * Find the persistent slot of that name and copy its state.  Returns false
 * if there is no such slot.
 */
static bool
sf_read_slot(const char *name, SlotState *state)
{
	ReplicationSlot *slot;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(name, false);
	if (slot != NULL)
		sf_copy_slot(slot, state);
	LWLockRelease(ReplicationSlotControlLock);

	return slot != NULL;
}

/*
 * Copy what a row records of a slot.  Caller holds ReplicationSlotControlLock,
 * so the slot stays in use.
 */
static void
sf_copy_slot(ReplicationSlot *slot, SlotState *state)
{
	SpinLockAcquire(&slot->mutex);
	state->persistent = slot->data.persistency == RS_PERSISTENT;
	state->logical = SlotIsLogical(slot);
	state->database = slot->data.database;
	state->plugin = slot->data.plugin;
	state->two_phase = slot->data.two_phase;
	state->restart_lsn = slot->data.restart_lsn;
	state->confirmed_flush = slot->data.confirmed_flush;
	state->xmin = slot->data.xmin;
	state->catalog_xmin = slot->data.catalog_xmin;
	state->invalidated = sf_slot_invalidated(slot);
	SpinLockRelease(&slot->mutex);
}

/*
 * OID of slot_failover.slots in the current database, or InvalidOid if the
 * extension is not installed.  Caller is in a transaction.
 */
Oid
sf_table_oid(void)
{
	Oid			nspid = get_namespace_oid(SF_SCHEMA, true);

	if (!OidIsValid(nspid))
		return InvalidOid;
	return get_relname_relid(SF_TABLE, nspid);
}

/*
 * Connect to SPI acting as the owner of the table, so that roles with the
 * REPLICATION attribute can change rows they have no privilege on.  The
 * restricted security context keeps the caller's search_path and GUCs from
 * mattering; every statement is schema-qualified anyway.
 */
static void
sf_spi_begin_as_owner(Oid relid, Oid *save_userid, int *save_sec)
{
	HeapTuple	tuple;
	Oid			owner;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table %s.%s does not exist", SF_SCHEMA, SF_TABLE),
				 errhint("Run CREATE EXTENSION slot_failover.")));

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);

	GetUserIdAndSecContext(save_userid, save_sec);
	SetUserIdAndSecContext(owner, *save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/*
 * Undo sf_spi_begin_as_owner.  (On error, transaction abort does both.)
 */
static void
sf_spi_end_as_owner(Oid save_userid, int save_sec)
{
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * Drop the worker's copy of the table, so that the next cycle reloads it.
 * Called after an error, and when the node stops being a primary.
 */
void
sf_primary_forget(void)
{
	if (marks != NULL)
		hash_destroy(marks);
	marks = NULL;
}

/*
 * Reload the worker's copy of the table, and check each row's marker.
 */
static void
sf_load_marks(uint64 generation)
{
	HASHCTL		ctl;
	Oid			relid;

	sf_primary_forget();
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(MarkedSlot);
	ctl.hcxt = TopMemoryContext;
	marks = hash_create("slot_failover marks", 64, &ctl,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	relid = sf_table_oid();
	if (!OidIsValid(relid))
	{
		if (!said_not_installed)
			ereport(LOG,
					(errmsg("slot_failover is not installed in database \"%s\"; the worker waits for it",
							sf_database),
					 errhint("Run CREATE EXTENSION slot_failover in that database.")));
		said_not_installed = true;
	}
	else
	{
		int			ret;

		said_not_installed = false;
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute("SELECT slot_name, slot_identity, restart_lsn,"
						  " confirmed_flush_lsn, catalog_xmin, slot_xmin, invalidated"
						  " FROM slot_failover.slots", true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute returned %s", SPI_result_code_string(ret));

		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			MarkedSlot *row;
			Datum		d;
			bool		isnull;
			bool		waiting;

			d = SPI_getbinval(tup, desc, 1, &isnull);
			row = hash_search(marks, NameStr(*DatumGetName(d)), HASH_ENTER, NULL);
			row->identity = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			row->restart_lsn = sf_spi_lsn(tup, desc, 3);
			row->confirmed_flush = sf_spi_lsn(tup, desc, 4);
			row->catalog_xmin = sf_spi_xid(tup, desc, 5);
			row->xmin = sf_spi_xid(tup, desc, 6);
			row->invalidated = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
			row->marker_matches =
				sf_marker_read(NameStr(row->name), &waiting) == row->identity &&
				!waiting;
		}
		SPI_finish();
		PopActiveSnapshot();
	}
	CommitTransactionCommand();

	marks_generation = generation;

	/* everything before now counts as somebody else's work */
	seen_completions = sf_xact_completion_count();
	frontier = GetXLogInsertRecPtr();
	foreign_since_write = true;
}

/*
 * Move the frontier if a transaction with an xid ended since we last
 * looked.  The counter is read before the insert position, so the frontier
 * is past the commit record of every transaction counted.
 */
static void
sf_observe_activity(void)
{
	uint64		completions = sf_xact_completion_count();

	if (completions != seen_completions)
	{
		seen_completions = completions;
		frontier = GetXLogInsertRecPtr();
		foreign_since_write = true;
	}
}

/*
 * Does the row differ from its slot in anything it records?
 */
static bool
sf_differs(MarkedSlot *row, SlotState *now)
{
	return now->restart_lsn != row->restart_lsn ||
		now->confirmed_flush != row->confirmed_flush ||
		now->xmin != row->xmin ||
		now->catalog_xmin != row->catalog_xmin ||
		now->invalidated != row->invalidated;
}

/*
 * Is the difference between a row and its slot worth a write?  See "Our
 * own writes" in the file header.
 */
static bool
sf_worth_writing(MarkedSlot *row, SlotState *now)
{
	if (now->invalidated != row->invalidated)
		return true;
	if (Min(now->restart_lsn, frontier) != Min(row->restart_lsn, frontier) ||
		Min(now->confirmed_flush, frontier) != Min(row->confirmed_flush, frontier))
		return true;
	if (sf_xmin_retreated(row->catalog_xmin, now->catalog_xmin))
		return true;
	return foreign_since_write &&
		(now->xmin != row->xmin || now->catalog_xmin != row->catalog_xmin);
}

/*
 * Did a catalog_xmin appear, vanish or move backwards?  That is never an
 * echo of our own writes, and a standby waits for it: slotsync.c checks
 * the catalog_xmin its own physical slot holds on the primary.  (A
 * physical slot's xmin is left to the general rule: hot_standby_feedback
 * moves it back and forth with the standby's queries, ours included.)
 */
static bool
sf_xmin_retreated(TransactionId recorded, TransactionId now)
{
	if (recorded == now)
		return false;
	return !TransactionIdIsValid(recorded) || !TransactionIdIsValid(now) ||
		TransactionIdPrecedes(now, recorded);
}

/*
 * One cycle of the primary's role: bring the table in line with the marked
 * slots.  With exact, every difference is written.  Returns the number of
 * rows written.
 */
int
sf_primary_cycle(bool exact)
{
	uint64		generation;
	long		nmarks;
	MarkedSlot **updates;
	MarkedSlot **deletes;
	SlotState  *states;
	SlotState  *current;
	int			nupdates = 0;
	int			ndeletes = 0;
	HASH_SEQ_STATUS seq;
	MarkedSlot *row;
	int			i;

	SpinLockAcquire(&sf_shared->mutex);
	generation = sf_shared->marks_changed;
	SpinLockRelease(&sf_shared->mutex);

	if (marks == NULL || generation != marks_generation)
		sf_load_marks(generation);

	nmarks = hash_get_num_entries(marks);
	if (nmarks == 0)
		return 0;

	sf_observe_activity();

	/* copy the state of every marked slot that exists */
	hash_seq_init(&seq, marks);
	while ((row = hash_seq_search(&seq)) != NULL)
		row->now = NULL;
	current = palloc(sizeof(SlotState) * max_replication_slots);
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];

		/* in_use and the name cannot change while we hold the lock */
		if (!slot->in_use)
			continue;
		row = hash_search(marks, NameStr(slot->data.name), HASH_FIND, NULL);
		if (row == NULL)
			continue;
		sf_copy_slot(slot, &current[i]);
		if (current[i].persistent)
			row->now = &current[i];
	}
	LWLockRelease(ReplicationSlotControlLock);

	/* decide, row by row */
	updates = palloc(sizeof(MarkedSlot *) * nmarks);
	states = palloc(sizeof(SlotState) * nmarks);
	deletes = palloc(sizeof(MarkedSlot *) * nmarks);
	hash_seq_init(&seq, marks);
	while ((row = hash_seq_search(&seq)) != NULL)
	{
		if (row->now == NULL || !row->marker_matches ||
			!sf_marker_exists(NameStr(row->name)))
			deletes[ndeletes++] = row;
		else if (exact ? sf_differs(row, row->now) :
				 sf_worth_writing(row, row->now))
		{
			states[nupdates] = *row->now;
			updates[nupdates++] = row;
		}
	}

	if (nupdates == 0 && ndeletes == 0)
		return 0;
	return sf_write_changes(updates, states, nupdates, deletes, ndeletes);
}

/*
 * Write the changes of one cycle in one transaction, and bring the worker's
 * copy of the table in line.  Returns the number of rows written.
 */
static int
sf_write_changes(MarkedSlot **updates, SlotState *states, int nupdates,
				 MarkedSlot **deletes, int ndeletes)
{
	uint64		completions_before = seen_completions;
	uint64		completions_after;
	uint64		written = 0;
	Oid			relid;

	pgstat_report_activity(STATE_RUNNING, "writing marked replication slots");

	/*
	 * A background worker sets the statement start time itself, as
	 * worker_spi does before each transaction: it is the transaction's
	 * now(), which the rows record as updated_at, and its xact_start.  We
	 * read the slots before this, so a row's updated_at follows the moves
	 * it records.
	 */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	relid = sf_table_oid();
	if (!OidIsValid(relid))
	{
		/* DROP EXTENSION: nothing is marked any more */
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		sf_load_marks(marks_generation);
		return 0;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (nupdates > 0)
	{
		Datum	   *v[8];
		bool	   *n[8];
		Datum		args[10];
		Oid			types[10] = {NAMEARRAYOID, INT8ARRAYOID, PG_LSNARRAYOID,
			PG_LSNARRAYOID, XIDARRAYOID, XIDARRAYOID, BOOLARRAYOID,
		BYTEAARRAYOID, INT8OID, INT4OID};
		int			ret;

		for (int c = 0; c < 8; c++)
		{
			v[c] = palloc(sizeof(Datum) * nupdates);
			n[c] = palloc0(sizeof(bool) * nupdates);
		}
		for (int r = 0; r < nupdates; r++)
		{
			SlotState  *s = &states[r];

			v[0][r] = NameGetDatum(&updates[r]->name);
			v[1][r] = Int64GetDatum(updates[r]->identity);
			v[2][r] = LSNGetDatum(s->restart_lsn);
			n[2][r] = XLogRecPtrIsInvalid(s->restart_lsn);
			v[3][r] = LSNGetDatum(s->confirmed_flush);
			n[3][r] = XLogRecPtrIsInvalid(s->confirmed_flush);
			v[4][r] = TransactionIdGetDatum(s->catalog_xmin);
			n[4][r] = !TransactionIdIsValid(s->catalog_xmin);
			v[5][r] = TransactionIdGetDatum(s->xmin);
			n[5][r] = !TransactionIdIsValid(s->xmin);
			v[6][r] = BoolGetDatum(s->invalidated);

			/* the snapshot to restart decoding from, when that moved */
			n[7][r] = true;
			if (s->logical && s->restart_lsn != updates[r]->restart_lsn)
			{
				bytea	   *snapshot = sf_snapshot_read(s->restart_lsn);

				v[7][r] = PointerGetDatum(snapshot);
				n[7][r] = snapshot == NULL;
			}
		}
		args[0] = sf_array(v[0], n[0], nupdates, NAMEOID);
		args[1] = sf_array(v[1], n[1], nupdates, INT8OID);
		args[2] = sf_array(v[2], n[2], nupdates, PG_LSNOID);
		args[3] = sf_array(v[3], n[3], nupdates, PG_LSNOID);
		args[4] = sf_array(v[4], n[4], nupdates, XIDOID);
		args[5] = sf_array(v[5], n[5], nupdates, XIDOID);
		args[6] = sf_array(v[6], n[6], nupdates, BOOLOID);
		args[7] = sf_array(v[7], n[7], nupdates, BYTEAOID);
		args[8] = Int64GetDatum((int64) GetSystemIdentifier());
		args[9] = Int32GetDatum((int32) sf_insert_timeline());

		ret = SPI_execute_with_args("UPDATE slot_failover.slots AS s SET"
									" restart_lsn = u.restart_lsn,"
									" confirmed_flush_lsn = u.confirmed_flush_lsn,"
									" catalog_xmin = u.catalog_xmin,"
									" slot_xmin = u.slot_xmin,"
									" invalidated = u.invalidated,"
									" snapshot = CASE WHEN s.restart_lsn IS DISTINCT FROM u.restart_lsn"
									"  THEN u.snapshot ELSE s.snapshot END,"
									" system_identifier = $9,"
									" timeline = $10,"
									" updated_at = pg_catalog.now()"
									" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
									"  pg_catalog.unnest($3), pg_catalog.unnest($4),"
									"  pg_catalog.unnest($5), pg_catalog.unnest($6),"
									"  pg_catalog.unnest($7), pg_catalog.unnest($8))"
									"  AS u(slot_name, slot_identity, restart_lsn,"
									"  confirmed_flush_lsn, catalog_xmin, slot_xmin, invalidated,"
									"  snapshot)"
									" WHERE s.slot_name OPERATOR(pg_catalog.=) u.slot_name"
									" AND s.slot_identity OPERATOR(pg_catalog.=) u.slot_identity",
									10, types, args, NULL, false, 0);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "SPI_execute_with_args returned %s", SPI_result_code_string(ret));
		written += SPI_processed;
	}

	if (ndeletes > 0)
	{
		Datum	   *names = palloc(sizeof(Datum) * ndeletes);
		Datum	   *identities = palloc(sizeof(Datum) * ndeletes);
		Datum		args[2];
		Oid			types[2] = {NAMEARRAYOID, INT8ARRAYOID};
		int			ret;

		for (int r = 0; r < ndeletes; r++)
		{
			names[r] = NameGetDatum(&deletes[r]->name);
			identities[r] = Int64GetDatum(deletes[r]->identity);
		}
		args[0] = sf_array(names, NULL, ndeletes, NAMEOID);
		args[1] = sf_array(identities, NULL, ndeletes, INT8OID);
		ret = SPI_execute_with_args("DELETE FROM slot_failover.slots AS s"
									" USING ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))"
									"  AS d(slot_name, slot_identity)"
									" WHERE s.slot_name OPERATOR(pg_catalog.=) d.slot_name"
									" AND s.slot_identity OPERATOR(pg_catalog.=) d.slot_identity",
									2, types, args, NULL, false, 0);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "SPI_execute_with_args returned %s", SPI_result_code_string(ret));
		written += SPI_processed;
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	/* the rows now say what we wrote */
	for (int r = 0; r < nupdates; r++)
	{
		updates[r]->restart_lsn = states[r].restart_lsn;
		updates[r]->confirmed_flush = states[r].confirmed_flush;
		updates[r]->xmin = states[r].xmin;
		updates[r]->catalog_xmin = states[r].catalog_xmin;
		updates[r]->invalidated = states[r].invalidated;
	}
	for (int r = 0; r < ndeletes; r++)
		hash_search(marks, NameStr(deletes[r]->name), HASH_REMOVE, NULL);

	/*
	 * If ours was the only transaction to end meanwhile, what we just wrote
	 * is no reason to write again; otherwise somebody else was busy too.
	 */
	completions_after = sf_xact_completion_count();
	if (completions_after == completions_before + 1)
	{
		seen_completions = completions_after;
		foreign_since_write = false;
	}
	else
		sf_observe_activity();

	return (int) written;
}

/*
 * A one-dimensional array of a built-in type, for an SPI parameter.
 */
static Datum
sf_array(Datum *values, bool *nulls, int n, Oid elmtype)
{
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(elmtype, &elmlen, &elmbyval, &elmalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs,
											  elmtype, elmlen, elmbyval,
											  elmalign));
}
