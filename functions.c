/*-------------------------------------------------------------------------
 *
 * functions.c
 *		The SQL-callable functions of slot_failover, one per SQL object,
 *		and the transaction callback of mark() and unmark().
 *
 * Each function checks its caller and arguments, then asks the file that
 * owns the work: the table (table.c), the slots (slots.c), the markers
 * (marker.c), the worker (worker.c), the status board (status.c) and the
 * gate (gate.c).  Functions that change anything need a superuser or a
 * role with the REPLICATION attribute, and run in slot_failover.database.
 *
 * mark() and unmark() change the row and the slot's marker in the caller's
 * transaction; the marker reads as the transaction ends (marker.c), so the
 * callback only refuses PREPARE and wakes the worker.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  functions.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "slot_failover.h"

/* number of columns of worker_status() */
#define SF_WORKER_STATUS_COLS	10

PG_FUNCTION_INFO_V1(slot_failover_mark);
PG_FUNCTION_INFO_V1(slot_failover_unmark);
PG_FUNCTION_INFO_V1(slot_failover_sync);
PG_FUNCTION_INFO_V1(slot_failover_worker_status);
PG_FUNCTION_INFO_V1(slot_failover_copy_status);
PG_FUNCTION_INFO_V1(slot_failover_gate_status);
PG_FUNCTION_INFO_V1(slot_failover_gate_position);
PG_FUNCTION_INFO_V1(slot_failover_gate_missing);

static void sf_require_preload(void);
static void sf_check_function_call(bool needs_worker_database);
static void sf_check_change_call(Name slot_name);
static void sf_xact_callback(XactEvent event, void *arg);
static void sf_warn_locked_out(void);

/* did this transaction run mark() or unmark()? */
static bool sf_marks_dirty = false;
static bool sf_xact_callback_registered = false;

/*
 * slot_failover.mark(slot_name): record the slot in the table, in the
 * caller's transaction, so that every standby that replays the commit
 * keeps a copy of it (primary.c does it, as for the worker's automatic
 * marks).
 */
Datum
slot_failover_mark(PG_FUNCTION_ARGS)
{
	Name		slot_name = PG_ARGISNULL(0) ? NULL : PG_GETARG_NAME(0);
	bool		was_dirty = sf_marks_dirty;

	sf_check_change_call(slot_name);

	/* before it writes anything: an error may leave a (sub)xact entry */
	sf_marks_dirty = true;
	if (!sf_primary_mark(slot_name, false))
	{
		sf_marks_dirty = was_dirty;
		ereport(NOTICE,
				(errmsg("replication slot \"%s\" is already marked for failover",
						NameStr(*slot_name))));
	}
	PG_RETURN_VOID();
}

/*
 * slot_failover.unmark(slot_name): delete the slot's row, in the caller's
 * transaction; standbys drop their copy once they replay the commit.  The
 * marker records the unmark for this (sub)transaction, after the row is
 * locked, as in mark(), and remembers it until the slot is dropped, so
 * that slot_failover.auto_mark does not mark the slot again (marker.c).
 */
Datum
slot_failover_unmark(PG_FUNCTION_ARGS)
{
	Name		slot_name = PG_ARGISNULL(0) ? NULL : PG_GETARG_NAME(0);
	Oid			save_userid;
	int			save_sec;
	int64		identity;
	SlotState	state;

	sf_check_change_call(slot_name);
	sf_table_begin_as_owner(&save_userid, &save_sec);

	identity = sf_table_delete_row(slot_name);
	if (identity == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("replication slot \"%s\" is not marked for failover",
						NameStr(*slot_name))));
	sf_marks_dirty = true;

	/*
	 * Whether the slot is the one the row named or was created again since
	 * (then without our marker), it is not to be marked now.
	 */
	sf_marker_lock();
	if (sf_slot_read(NameStr(*slot_name), &state) && state.persistent)
		sf_marker_record(NameStr(*slot_name), 0);
	sf_marker_unlock();

	sf_table_end_as_owner(save_userid, save_sec);
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
	(void) sf_slot_validate_name(NameStr(*slot_name), ERROR);

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
 * Refuse to prepare a transaction that marked or unmarked slots: COMMIT
 * PREPARED runs in another session, which would not wake the worker.  When
 * such a transaction ends, wake the worker, which reloads the table and
 * settles the markers.  (The markers themselves need nothing here: they
 * read as the transaction ended, see marker.c.)
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
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (sf_marks_dirty)
				sf_worker_marks_changed();
			sf_marks_dirty = false;
			break;
		default:
			break;
	}
}

/*
 * The SQL functions need the shared state, which only preloading creates.
 */
static void
sf_require_preload(void)
{
	if (!sf_worker_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("slot_failover must be loaded via \"shared_preload_libraries\""),
				 errhint("Add slot_failover to \"shared_preload_libraries\" and restart the server.")));
}

/*
 * Checks shared by every SQL function that changes something: the library
 * is preloaded, the caller may manage replication slots, and the function
 * runs in the database the worker follows.
 */
static void
sf_check_function_call(bool needs_worker_database)
{
	char	   *database_name;

	sf_require_preload();

	if (!has_rolreplication(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to manage failover of replication slots"),
				 errdetail("Only superusers and roles with the %s attribute may mark, unmark or synchronize replication slots.",
						   "REPLICATION")));

	if (!needs_worker_database)
		return;

	/* NULL if our database was dropped under us */
	database_name = get_database_name(MyDatabaseId);
	if (database_name == NULL || strcmp(database_name, sf_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("slot_failover can only be used in database \"%s\"",
						sf_database),
				 errhint("The worker follows the database named by \"%s\"; install the extension there or change that setting.",
						 "slot_failover.database")));
}

/*
 * slot_failover.sync(): have the worker run a full cycle now, and wait for
 * it.  On a primary the table then reflects the current state of every
 * marked slot, but rows another transaction holds, which get a WARNING.
 * Returns an LSN: once a standby has replayed up to it, it has that state
 * too.
 */
Datum
slot_failover_sync(PG_FUNCTION_ARGS)
{
	XLogRecPtr	lsn;

	sf_check_function_call(true);
	lsn = sf_worker_sync();
	if (!RecoveryInProgress())
		sf_warn_locked_out();
	PG_RETURN_LSN(lsn);
}

/*
 * Warn about the rows the worker could not write in its last cycle, as it
 * published them on a primary (primary.c): sync() calls this, so that its
 * caller learns what the table does not reflect yet.
 */
static void
sf_warn_locked_out(void)
{
	SlotFailoverCopyStatus *entries;
	int			n = sf_status_read(&entries);

	for (int i = 0; i < n; i++)
		ereport(WARNING,
				(errmsg("row of replication slot \"%s\" was not updated",
						NameStr(entries[i].name)),
				 errdetail("The row is locked by another transaction, for instance an open mark() or unmark(); the worker writes it once that transaction ends.")));
}

/*
 * slot_failover.worker_status(): one row about the worker, for the view
 * slot_failover.worker.
 */
Datum
slot_failover_worker_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[SF_WORKER_STATUS_COLS];
	bool		nulls[SF_WORKER_STATUS_COLS];
	SlotFailoverWorkerStatus copy;

	sf_require_preload();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	Assert(tupdesc->natts == SF_WORKER_STATUS_COLS);

	sf_worker_get_status(&copy);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(copy.pid);
	nulls[0] = copy.pid == 0;
	values[1] = CStringGetTextDatum(copy.in_recovery ? "standby" : "primary");
	nulls[1] = copy.pid == 0;
	values[2] = TimestampTzGetDatum(copy.started_at);
	nulls[2] = copy.started_at == 0;
	values[3] = Int64GetDatum((int64) copy.cycles);
	values[4] = Int64GetDatum((int64) copy.rows_written);
	values[5] = TimestampTzGetDatum(copy.last_cycle_at);
	nulls[5] = copy.last_cycle_at == 0;
	values[6] = Float8GetDatum(copy.last_cycle_ms);
	nulls[6] = copy.last_cycle_at == 0;
	values[7] = TimestampTzGetDatum(copy.last_write_at);
	nulls[7] = copy.last_write_at == 0;
	values[8] = CStringGetTextDatum(copy.last_error);
	nulls[8] = copy.last_error_at == 0;
	values[9] = TimestampTzGetDatum(copy.last_error_at);
	nulls[9] = copy.last_error_at == 0;

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * slot_failover.copy_status(): the state of each row as the worker last
 * published it (status.c): on a standby, its copy's; on a primary, the
 * rows it could not write.  For the view slot_failover.status.
 */
Datum
slot_failover_copy_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	static const char *const names[] = {"ready", "waiting", "conflict", "error"};
	SlotFailoverCopyStatus *entries;
	int			n;

	sf_require_preload();
	sf_init_materialized_srf(fcinfo);

	n = sf_status_read(&entries);
	for (int i = 0; i < n; i++)
	{
		SlotFailoverCopyStatus *status = &entries[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = NameGetDatum(&status->name);
		values[1] = CStringGetTextDatum(names[status->state]);
		values[2] = CStringGetTextDatum(status->reason);
		nulls[2] = status->reason[0] == '\0';
		values[3] = TimestampTzGetDatum(status->changed_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * slot_failover.gate_status(): the walsenders of marked slots that wait for
 * a standby now, for the view slot_failover.status.
 */
Datum
slot_failover_gate_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SlotFailoverGateStatus *waits;
	int			n;

	sf_require_preload();
	sf_init_materialized_srf(fcinfo);

	n = sf_gate_read_waits(&waits);
	for (int i = 0; i < n; i++)
	{
		SlotFailoverGateStatus *gate = &waits[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = NameGetDatum(&gate->slot);
		/* no standby: it waits for the row to record the slot's two_phase */
		values[1] = NameGetDatum(&gate->standby);
		nulls[1] = NameStr(gate->standby)[0] == '\0';
		values[2] = TimestampTzGetDatum(gate->since);
		values[3] = LSNGetDatum(gate->lsn);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * slot_failover.gate_position(slot_name): the position up to which the
 * slot may be consumed without running ahead of the listed standbys, or
 * NULL if it is not gated (not a marked logical slot, or no standby
 * listed).  The gated SQL functions stop there.
 */
Datum
slot_failover_gate_position(PG_FUNCTION_ARGS)
{
	Name		slot_name = PG_GETARG_NAME(0);
	bool		gated;
	XLogRecPtr	position;

	CheckSlotPermissions();
	position = sf_gate_position(NameStr(*slot_name), &gated);
	if (!gated)
		PG_RETURN_NULL();
	PG_RETURN_LSN(position);
}

/*
 * slot_failover.gate_missing(): the slots slot_failover.standby_slot_names
 * lists that do not exist, which logical clients of marked slots may be
 * waiting for; for the view slot_failover.status.
 */
Datum
slot_failover_gate_missing(PG_FUNCTION_ARGS)
{
	NameData   *names = NULL;
	int			n;
	Datum	   *values;

	sf_require_preload();
	n = sf_gate_missing(&names);
	values = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		values[i] = NameGetDatum(&names[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(values, n, NAMEOID, NAMEDATALEN,
										  false, TYPALIGN_CHAR));
}
