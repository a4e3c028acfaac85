/*-------------------------------------------------------------------------
 *
 * primary.c
 *		The primary's side: mark() and unmark(), and the worker's cycle
 *		that keeps slot_failover.slots equal to the marked slots.
 *
 * A row of slot_failover.slots is an order to every standby to keep a copy
 * of one replication slot, pinning WAL and catalog rows for it.  The row
 * names one incarnation of the slot: mark() draws a random identity and
 * records it both in the row and in the slot's marker file (marker.c).  A
 * slot dropped and created again under the same name has no marker: the
 * worker then deletes the row, and the new slot is not marked until
 * somebody marks it.
 *
 * Marks are transactional.  mark() and unmark() first write the row, which
 * locks it until their transaction ends, then add an entry for their
 * (sub)transaction to the marker, which reads as the committed rows say
 * whatever the transaction does (marker.c).  The worker settles markers
 * when it reloads the table, and logs those it settles at its start: they
 * were left by transactions that ended while it was not running, for
 * instance in a crash.
 *
 * The worker keeps in its own memory what each row says (marks, a hash
 * table keyed by slot name).  It reloads it from the table when mark() or
 * unmark() ended a transaction (SlotFailoverShared.marks_changed), after an
 * error, and when the node changes role.  A row whose system_identifier is
 * not this cluster's came from elsewhere (a subscription FOR ALL TABLES, a
 * dump): it is ignored, with one WARNING.  A cycle reads the slot array
 * under ReplicationSlotControlLock (shared, no I/O while held), checks that
 * each marked slot still has its marker file, and compares.  Only when a
 * row must change does it start a transaction, and it writes all changes
 * of the cycle with one UPDATE and one DELETE.  It first locks the rows it
 * changes, skipping those that a user's transaction holds (an open mark()
 * or unmark()): such a row waits for the next cycle, and the status view
 * says why, so that one open transaction never stalls the others' rows.
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
 * transaction ended since our last write.  A row can therefore trail its
 * slot by the WAL written since the last transaction with an xid ended,
 * which is safe: a standby then keeps more WAL than needed.  sync() asks
 * for an exact cycle, which writes every difference.
 *
 * The worker's session runs with an empty search_path (worker.c), and every
 * operator and function below is schema-qualified anyway.
 *
 * Crash safety: every change of a row is a normal transaction, and the
 * marker follows it (above).
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
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
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
	XLogRecPtr	two_phase_at;
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
	bool		marker_matches; /* marker named this identity at load */
	bool		two_phase;
	XLogRecPtr	two_phase_at;
	XLogRecPtr	restart_lsn;
	XLogRecPtr	confirmed_flush;
	TransactionId xmin;
	TransactionId catalog_xmin;
	bool		invalidated;
	SlotState  *now;			/* during a cycle: the slot, or NULL */
	bool		locked;			/* during a write: we hold the row */
	TimestampTz locked_out_since;	/* a user's transaction holds the row */
} MarkedSlot;

/* why a row waits on a primary, for the status view */
#define SF_LOCKED_OUT_REASON \
	"the row is locked by another transaction (for instance an open mark() or unmark()); it is written once that transaction ends"

PG_FUNCTION_INFO_V1(slot_failover_mark);
PG_FUNCTION_INFO_V1(slot_failover_unmark);

static void sf_check_change_call(Name slot_name);
static Oid	sf_rel_owner(Oid relid);
static int64 sf_row_identity(Name slot_name);
static void sf_insert_row(Name slot_name, int64 identity, SlotState *state);
static bool sf_read_slot(const char *name, SlotState *state);
static void sf_copy_slot(ReplicationSlot *slot, SlotState *state);
static void sf_spi_begin_as_owner(Oid relid, Oid *save_userid, int *save_sec);
static void sf_spi_end_as_owner(Oid save_userid, int save_sec);
static void sf_spi_check(int ret, int expected);
static void sf_xact_callback(XactEvent event, void *arg);
static void sf_settle_markers(void);
static void sf_load_marks(uint64 generation);
static bool sf_row_is_ours(const char *name, int64 system_identifier);
static void sf_observe_activity(void);
static bool sf_differs(MarkedSlot *row, SlotState *now);
static bool sf_worth_writing(MarkedSlot *row, SlotState *now);
static bool sf_xmin_retreated(TransactionId recorded, TransactionId now);
static void sf_lock_rows(MarkedSlot **rows, int nrows);
static int	sf_update_rows(MarkedSlot **updates, SlotState *states, int nupdates);
static int	sf_delete_rows(MarkedSlot **deletes, int ndeletes);
static int	sf_write_changes(MarkedSlot **updates, SlotState *states,
							 int nupdates, MarkedSlot **deletes, int ndeletes);
static void sf_publish_locked_out(void);
static Datum sf_array(Datum *values, bool *nulls, int n, Oid elmtype);

/* did this transaction run mark() or unmark()? */
static bool sf_marks_dirty = false;
static bool sf_xact_callback_registered = false;

/* the worker's copy of the table; NULL until loaded */
static HTAB *marks = NULL;
static uint64 marks_generation = 0;
static bool said_not_installed = false;

/* markers are settled at each load; those of the first load are logged */
static bool settled_since_start = false;

/* slots whose foreign rows we warned about, in TopMemoryContext */
static List *warned_foreign = NIL;

/* see "Our own writes" in the file header */
static uint64 seen_completions = 0;
static XLogRecPtr frontier = InvalidXLogRecPtr;
static bool foreign_since_write = true;

/*
 * slot_failover.mark(slot_name): record the slot in the table, in the
 * caller's transaction, so that every standby that replays the commit
 * keeps a copy of it.
 *
 * The row is locked first, so that we are ordered after any other
 * transaction marking or unmarking the slot; only then is the identity
 * recorded in the slot's marker, and the row made to describe the slot
 * that holds it.
 */
Datum
slot_failover_mark(PG_FUNCTION_ARGS)
{
	Name		slot_name = PG_ARGISNULL(0) ? NULL : PG_GETARG_NAME(0);
	SlotState	state;
	SlotState	now;
	Oid			save_userid;
	int			save_sec;
	int64		row_identity;
	int64		identity;

	sf_check_change_call(slot_name);
	sf_spi_begin_as_owner(sf_table_oid(), &save_userid, &save_sec);

	/* zeroed, padding included: the two are compared with memcmp() */
	memset(&state, 0, sizeof(state));
	memset(&now, 0, sizeof(now));
	row_identity = sf_row_identity(slot_name);
	if (!sf_read_slot(NameStr(*slot_name), &state))
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
	if (row_identity != 0 &&
		sf_marker_read(NameStr(*slot_name), NULL) == row_identity)
	{
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
	sf_insert_row(slot_name, identity, &state);

	/*
	 * Tie the identity to the slot as it is now.  Should it have moved, or
	 * been dropped and created again, since we read it, the row takes the
	 * state of the slot that holds the marker.
	 */
	LWLockAcquire(sf_shared->markers_lock, LW_EXCLUSIVE);
	LWLockAcquire(ReplicationSlotAllocationLock, LW_SHARED);
	if (!sf_read_slot(NameStr(*slot_name), &now) || !now.persistent)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("replication slot \"%s\" was dropped while it was being marked",
						NameStr(*slot_name))));
	sf_marker_record(NameStr(*slot_name), identity);
	LWLockRelease(ReplicationSlotAllocationLock);
	LWLockRelease(sf_shared->markers_lock);
	if (memcmp(&now, &state, sizeof(SlotState)) != 0)
		sf_insert_row(slot_name, identity, &now);

	sf_spi_end_as_owner(save_userid, save_sec);
	PG_RETURN_VOID();
}

/*
 * slot_failover.unmark(slot_name): delete the slot's row, in the caller's
 * transaction; standbys drop their copy once they replay the commit.  The
 * marker records the unmark for this (sub)transaction, after the row is
 * locked, as in mark().
 */
Datum
slot_failover_unmark(PG_FUNCTION_ARGS)
{
	Name		slot_name = PG_ARGISNULL(0) ? NULL : PG_GETARG_NAME(0);
	Oid			save_userid;
	int			save_sec;
	Oid			types[1] = {NAMEOID};
	Datum		values[1];
	bool		isnull;
	int64		identity;

	sf_check_change_call(slot_name);
	sf_spi_begin_as_owner(sf_table_oid(), &save_userid, &save_sec);

	values[0] = NameGetDatum(slot_name);
	sf_spi_check(SPI_execute_with_args("DELETE FROM slot_failover.slots"
									   " WHERE slot_name OPERATOR(pg_catalog.=) $1"
									   " RETURNING slot_identity",
									   1, types, values, NULL, false, 0),
				 SPI_OK_DELETE_RETURNING);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("replication slot \"%s\" is not marked for failover",
						NameStr(*slot_name))));
	identity = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	sf_marks_dirty = true;

	/* a slot created again since it was marked has no marker of ours */
	LWLockAcquire(sf_shared->markers_lock, LW_EXCLUSIVE);
	LWLockAcquire(ReplicationSlotAllocationLock, LW_SHARED);
	if (sf_marker_read(NameStr(*slot_name), NULL) == identity)
		sf_marker_record(NameStr(*slot_name), 0);
	LWLockRelease(ReplicationSlotAllocationLock);
	LWLockRelease(sf_shared->markers_lock);

	sf_spi_end_as_owner(save_userid, save_sec);
	PG_RETURN_VOID();
}

/*
 * The identity of the slot's row, or 0 if it has none.  The row is locked,
 * so that an unmark() still open elsewhere cannot take it away after we
 * find the slot already marked: we wait for it, and then see its outcome.
 */
static int64
sf_row_identity(Name slot_name)
{
	Oid			types[1] = {NAMEOID};
	Datum		values[1];
	bool		isnull;

	values[0] = NameGetDatum(slot_name);
	sf_spi_check(SPI_execute_with_args("SELECT slot_identity FROM slot_failover.slots"
									   " WHERE slot_name OPERATOR(pg_catalog.=) $1"
									   " FOR NO KEY UPDATE",
									   1, types, values, NULL, false, 1),
				 SPI_OK_SELECT);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Insert (or replace) the slot's row, with its state and a new identity.
 */
static void
sf_insert_row(Name slot_name, int64 identity, SlotState *state)
{
	Datum		values[16];
	char		nulls[16];
	Oid			types[16] = {NAMEOID, INT8OID, TEXTOID, OIDOID, NAMEOID,
		NAMEOID, BOOLOID, PG_LSNOID, PG_LSNOID, PG_LSNOID, XIDOID, XIDOID,
	BOOLOID, INT8OID, INT4OID, BYTEAOID};
	NameData	database_name;
	bytea	   *snapshot = NULL;

	memset(nulls, ' ', sizeof(nulls));
	memset(&database_name, 0, sizeof(database_name));
	if (state->logical)
	{
		char	   *name = get_database_name(state->database);

		if (name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("database with OID %u does not exist",
							state->database)));
		namestrcpy(&database_name, name);
		snapshot = sf_snapshot_read(state->restart_lsn);
	}

	values[0] = NameGetDatum(slot_name);
	values[1] = Int64GetDatum(identity);
	values[2] = CStringGetTextDatum(state->logical ? "logical" : "physical");
	values[3] = ObjectIdGetDatum(state->database);
	nulls[3] = state->logical ? ' ' : 'n';
	values[4] = NameGetDatum(&database_name);
	nulls[4] = state->logical ? ' ' : 'n';
	values[5] = NameGetDatum(&state->plugin);
	nulls[5] = state->logical ? ' ' : 'n';
	values[6] = BoolGetDatum(state->two_phase);
	values[7] = LSNGetDatum(state->two_phase_at);
	nulls[7] = state->two_phase ? ' ' : 'n';
	values[8] = LSNGetDatum(state->restart_lsn);
	nulls[8] = XLogRecPtrIsInvalid(state->restart_lsn) ? 'n' : ' ';
	values[9] = LSNGetDatum(state->confirmed_flush);
	nulls[9] = XLogRecPtrIsInvalid(state->confirmed_flush) ? 'n' : ' ';
	values[10] = TransactionIdGetDatum(state->catalog_xmin);
	nulls[10] = TransactionIdIsValid(state->catalog_xmin) ? ' ' : 'n';
	values[11] = TransactionIdGetDatum(state->xmin);
	nulls[11] = TransactionIdIsValid(state->xmin) ? ' ' : 'n';
	values[12] = BoolGetDatum(state->invalidated);
	values[13] = Int64GetDatum((int64) GetSystemIdentifier());
	values[14] = Int32GetDatum((int32) sf_insert_timeline());
	values[15] = PointerGetDatum(snapshot);
	nulls[15] = snapshot ? ' ' : 'n';

	sf_spi_check(SPI_execute_with_args("INSERT INTO slot_failover.slots AS s"
									   " (slot_name, slot_identity, slot_type, datoid, database,"
									   "  plugin, two_phase, two_phase_at, restart_lsn,"
									   "  confirmed_flush_lsn, catalog_xmin, slot_xmin, invalidated,"
									   "  system_identifier, timeline, snapshot, marked_at, updated_at)"
									   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
									   "  $13, $14, $15, $16,"
									   "  pg_catalog.now(), pg_catalog.now())"
									   " ON CONFLICT (slot_name) DO UPDATE SET"
									   "  slot_identity = excluded.slot_identity,"
									   "  slot_type = excluded.slot_type,"
									   "  datoid = excluded.datoid,"
									   "  database = excluded.database,"
									   "  plugin = excluded.plugin,"
									   "  two_phase = excluded.two_phase,"
									   "  two_phase_at = excluded.two_phase_at,"
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
									   16, types, values, nulls, false, 0),
				 SPI_OK_INSERT);
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
				sf_wake_worker();
			sf_marks_dirty = false;
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
	state->two_phase_at = slot->data.two_phase_at;
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
 *
 * The worker reads and writes the table as a superuser, and every
 * statement names it slot_failover.slots: nobody but a superuser may own
 * that schema or that relation, and the relation must be the extension's
 * own table, or a schema owner could put a view there whose functions run
 * as the worker.  SQL objects older than this library are refused, naming
 * the command that updates them: the statements need the current columns.
 */
Oid
sf_table_oid(void)
{
	Oid			nspid = get_namespace_oid(SF_SCHEMA, true);
	Oid			relid;
	HeapTuple	tuple;
	Oid			nspowner;

	if (!OidIsValid(nspid))
		return InvalidOid;
	relid = get_relname_relid(SF_TABLE, nspid);
	if (!OidIsValid(relid))
		return InvalidOid;

	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	nspowner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
	ReleaseSysCache(tuple);
	if (!superuser_arg(nspowner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema \"%s\" is owned by role \"%s\", which is not a superuser",
						SF_SCHEMA, GetUserNameFromId(nspowner, false)),
				 errdetail("slot_failover reads and writes the schema's table as a superuser, so its owner could make it run code of theirs."),
				 errhint("Run ALTER SCHEMA %s OWNER TO a superuser.", SF_SCHEMA)));
	if (get_rel_relkind(relid) != RELKIND_RELATION ||
		getExtensionOfObject(RelationRelationId, relid) !=
		get_extension_oid("slot_failover", true) ||
		!superuser_arg(sf_rel_owner(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s.%s\" is not the table of extension \"%s\"",
						SF_SCHEMA, SF_TABLE, "slot_failover"),
				 errhint("Drop that relation, then drop and create the extension again.")));

	if (get_attnum(relid, "two_phase_at") == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the SQL objects of slot_failover are older than its library"),
				 errdetail("Table %s.%s has no column \"%s\", which version 1.1 added.",
						   SF_SCHEMA, SF_TABLE, "two_phase_at"),
				 errhint("Run ALTER EXTENSION slot_failover UPDATE in database \"%s\" on the primary.",
						 sf_database)));
	return relid;
}

/*
 * The owner of a relation.
 */
static Oid
sf_rel_owner(Oid relid)
{
	HeapTuple	tuple;
	Oid			owner;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
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
	Oid			owner;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table %s.%s does not exist", SF_SCHEMA, SF_TABLE),
				 errhint("Run CREATE EXTENSION slot_failover.")));

	owner = sf_rel_owner(relid);

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
 * SPI calls fail only on a bug of ours: say which.
 */
static void
sf_spi_check(int ret, int expected)
{
	if (ret != expected)
		elog(ERROR, "SPI returned %s, expected %s",
			 SPI_result_code_string(ret), SPI_result_code_string(expected));
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
 * Settle the marker of every slot (marker.c), so that no entry outlives the
 * commit log of its transaction.  Entries found at the worker's start were
 * left by transactions that ended while it was not running, for instance
 * in a crash: say so.  Caller is in a transaction.
 */
static void
sf_settle_markers(void)
{
	List	   *names = NIL;
	ListCell   *lc;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];

		if (slot->in_use && slot->data.persistency == RS_PERSISTENT)
			names = lappend(names, pstrdup(NameStr(slot->data.name)));
	}
	LWLockRelease(ReplicationSlotControlLock);

	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		TransactionId xid = sf_marker_settle(name);

		if (!TransactionIdIsValid(xid) || settled_since_start)
			continue;
		if (sf_marker_exists(name))
			ereport(LOG,
					(errmsg("settled the failover mark of replication slot \"%s\", left by transaction %u",
							name, xid),
					 errdetail("That transaction ended while the worker was not running; as the committed rows say, the slot is marked.")));
		else
			ereport(LOG,
					(errmsg("settled the failover mark of replication slot \"%s\", left by transaction %u",
							name, xid),
					 errdetail("That transaction ended while the worker was not running; as the committed rows say, the slot is not marked.")));
	}
}

/*
 * Reload the worker's copy of the table, and check each row's marker.
 */
static void
sf_load_marks(uint64 generation)
{
	HASHCTL		ctl;

	sf_primary_forget();
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(MarkedSlot);
	ctl.hcxt = TopMemoryContext;
	marks = hash_create("slot_failover marks", 64, &ctl,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (!OidIsValid(sf_table_oid()))
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
		said_not_installed = false;
		sf_settle_markers();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		sf_spi_check(SPI_execute("SELECT slot_name, slot_identity, restart_lsn,"
								 " confirmed_flush_lsn, catalog_xmin, slot_xmin, invalidated,"
								 " two_phase, two_phase_at, system_identifier"
								 " FROM slot_failover.slots", true, 0),
					 SPI_OK_SELECT);

		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			MarkedSlot *row;
			bool		isnull;
			bool		waiting;
			char	   *name = NameStr(*DatumGetName(SPI_getbinval(tup, desc, 1, &isnull)));

			if (!sf_row_is_ours(name, DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull))))
				continue;
			row = hash_search(marks, name, HASH_ENTER, NULL);
			row->identity = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			row->restart_lsn = sf_spi_lsn(tup, desc, 3);
			row->confirmed_flush = sf_spi_lsn(tup, desc, 4);
			row->catalog_xmin = sf_spi_xid(tup, desc, 5);
			row->xmin = sf_spi_xid(tup, desc, 6);
			row->invalidated = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
			row->two_phase = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
			row->two_phase_at = sf_spi_lsn(tup, desc, 9);
			row->locked_out_since = 0;
			row->marker_matches =
				sf_marker_read(NameStr(row->name), &waiting) == row->identity &&
				!waiting;
		}
		SPI_finish();
		PopActiveSnapshot();
	}
	CommitTransactionCommand();

	marks_generation = generation;
	settled_since_start = true;
	sf_publish_locked_out();

	/* everything before now counts as somebody else's work */
	seen_completions = sf_xact_completion_count();
	frontier = GetXLogInsertRecPtr();
	foreign_since_write = true;
}

/*
 * Was the row written by this cluster?  One that another cluster wrote
 * (it came through a subscription, or a dump) describes none of our slots:
 * leave it alone, and say so once.
 */
static bool
sf_row_is_ours(const char *name, int64 system_identifier)
{
	ListCell   *lc;
	MemoryContext oldcxt;

	if ((uint64) system_identifier == GetSystemIdentifier())
		return true;

	foreach(lc, warned_foreign)
		if (strcmp(lfirst(lc), name) == 0)
			return false;
	ereport(WARNING,
			(errmsg("ignoring the row of replication slot \"%s\" in \"%s.%s\", written by another cluster",
					name, SF_SCHEMA, SF_TABLE),
			 errdetail("The row's system identifier is %llu; this cluster's is %llu.",
					   (unsigned long long) system_identifier,
					   (unsigned long long) GetSystemIdentifier()),
			 errhint("A publication FOR ALL TABLES carries slot_failover.slots to its subscribers; publish explicit tables or schemas instead.")));
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	warned_foreign = lappend(warned_foreign, pstrdup(name));
	MemoryContextSwitchTo(oldcxt);
	return false;
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
		now->invalidated != row->invalidated ||
		now->two_phase != row->two_phase ||
		(now->two_phase && now->two_phase_at != row->two_phase_at);
}

/*
 * Is the difference between a row and its slot worth a write?  See "Our
 * own writes" in the file header.  Enabling two_phase is never an echo.
 */
static bool
sf_worth_writing(MarkedSlot *row, SlotState *now)
{
	if (now->invalidated != row->invalidated ||
		now->two_phase != row->two_phase ||
		(now->two_phase && now->two_phase_at != row->two_phase_at))
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
	bool		no_longer_locked_out = false;
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
			!sf_marker_present(NameStr(row->name)))
			deletes[ndeletes++] = row;
		else if (exact ? sf_differs(row, row->now) :
				 sf_worth_writing(row, row->now))
		{
			states[nupdates] = *row->now;
			updates[nupdates++] = row;
		}
		else if (row->locked_out_since != 0)
		{
			/* what it waited to record is no reason to write any more */
			row->locked_out_since = 0;
			no_longer_locked_out = true;
		}
	}

	if (no_longer_locked_out)
		sf_publish_locked_out();
	if (nupdates == 0 && ndeletes == 0)
		return 0;
	return sf_write_changes(updates, states, nupdates, deletes, ndeletes);
}

/*
 * Write the changes of one cycle in one transaction, and bring the worker's
 * copy of the table in line.  Rows that a user's transaction holds are left
 * for a later cycle.  Returns the number of rows written.
 */
static int
sf_write_changes(MarkedSlot **updates, SlotState *states, int nupdates,
				 MarkedSlot **deletes, int ndeletes)
{
	uint64		completions_before = seen_completions;
	uint64		completions_after;
	int			written;
	bool		had_xid;
	MarkedSlot **all;

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

	if (!OidIsValid(sf_table_oid()))
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

	all = palloc(sizeof(MarkedSlot *) * (nupdates + ndeletes));
	memcpy(all, updates, sizeof(MarkedSlot *) * nupdates);
	memcpy(all + nupdates, deletes, sizeof(MarkedSlot *) * ndeletes);
	sf_lock_rows(all, nupdates + ndeletes);

	written = sf_update_rows(updates, states, nupdates);
	written += sf_delete_rows(deletes, ndeletes);
	had_xid = TransactionIdIsValid(GetTopTransactionIdIfAny());

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	/* the rows now say what we wrote */
	for (int r = 0; r < nupdates; r++)
	{
		MarkedSlot *row = updates[r];

		if (row->locked_out_since != 0)
			continue;
		row->restart_lsn = states[r].restart_lsn;
		row->confirmed_flush = states[r].confirmed_flush;
		row->xmin = states[r].xmin;
		row->catalog_xmin = states[r].catalog_xmin;
		row->invalidated = states[r].invalidated;
		row->two_phase = states[r].two_phase;
		row->two_phase_at = states[r].two_phase_at;
	}
	for (int r = 0; r < ndeletes; r++)
		if (deletes[r]->locked_out_since == 0)
			hash_search(marks, NameStr(deletes[r]->name), HASH_REMOVE, NULL);
	sf_publish_locked_out();

	/*
	 * If ours was the only transaction to end meanwhile, what we just wrote
	 * is no reason to write again; otherwise somebody else was busy too.
	 * (Ours counts only if it had an xid: with every row held by others, it
	 * wrote nothing.)
	 */
	completions_after = sf_xact_completion_count();
	if (had_xid && completions_after == completions_before + 1)
	{
		seen_completions = completions_after;
		foreign_since_write = false;
	}
	else
		sf_observe_activity();

	return written;
}

/*
 * Lock the rows of these marked slots for this transaction, skipping those
 * another transaction holds, so that an open mark() or unmark() delays only
 * its own row.  Each row's locked_out_since says whether we could.
 */
static void
sf_lock_rows(MarkedSlot **rows, int nrows)
{
	Datum	   *names = palloc(sizeof(Datum) * nrows);
	Datum		args[1];
	Oid			types[1] = {NAMEARRAYOID};
	TimestampTz now = GetCurrentTimestamp();

	for (int r = 0; r < nrows; r++)
		names[r] = NameGetDatum(&rows[r]->name);
	args[0] = sf_array(names, NULL, nrows, NAMEOID);
	sf_spi_check(SPI_execute_with_args("SELECT slot_name FROM slot_failover.slots"
									   " WHERE slot_name OPERATOR(pg_catalog.=) ANY ($1)"
									   " FOR UPDATE SKIP LOCKED",
									   1, types, args, NULL, false, 0),
				 SPI_OK_SELECT);

	for (int r = 0; r < nrows; r++)
		rows[r]->locked = false;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		name = SPI_getbinval(SPI_tuptable->vals[i],
										 SPI_tuptable->tupdesc, 1, &isnull);
		MarkedSlot *row = hash_search(marks, NameStr(*DatumGetName(name)),
									  HASH_FIND, NULL);

		if (row != NULL)
			row->locked = true;
	}
	for (int r = 0; r < nrows; r++)
	{
		if (rows[r]->locked)
			rows[r]->locked_out_since = 0;
		else if (rows[r]->locked_out_since == 0)
			rows[r]->locked_out_since = now;
	}
}

/*
 * Update the rows we locked with their slots' states.  A logical slot's
 * decoding snapshot goes with a new restart_lsn.
 */
static int
sf_update_rows(MarkedSlot **updates, SlotState *states, int nupdates)
{
	enum
	{
		U_NAME, U_IDENTITY, U_RESTART, U_CONFIRMED, U_CATALOG_XMIN, U_XMIN,
		U_INVALIDATED, U_TWO_PHASE, U_TWO_PHASE_AT, U_SNAPSHOT_MOVED,
		U_SNAPSHOT, U_NCOLUMNS
	};
	static const Oid elmtypes[U_NCOLUMNS] = {NAMEOID, INT8OID, PG_LSNOID,
		PG_LSNOID, XIDOID, XIDOID, BOOLOID, BOOLOID, PG_LSNOID, BOOLOID,
	BYTEAOID};
	Datum	   *v[U_NCOLUMNS];
	bool	   *n[U_NCOLUMNS];
	Datum		args[U_NCOLUMNS + 2];
	Oid			types[U_NCOLUMNS + 2];
	int			k = 0;

	for (int c = 0; c < U_NCOLUMNS; c++)
	{
		v[c] = palloc(sizeof(Datum) * Max(nupdates, 1));
		n[c] = palloc0(sizeof(bool) * Max(nupdates, 1));
	}
	for (int r = 0; r < nupdates; r++)
	{
		SlotState  *s = &states[r];
		bool		moved = updates[r]->restart_lsn != s->restart_lsn;

		if (updates[r]->locked_out_since != 0)
			continue;
		v[U_NAME][k] = NameGetDatum(&updates[r]->name);
		v[U_IDENTITY][k] = Int64GetDatum(updates[r]->identity);
		v[U_RESTART][k] = LSNGetDatum(s->restart_lsn);
		n[U_RESTART][k] = XLogRecPtrIsInvalid(s->restart_lsn);
		v[U_CONFIRMED][k] = LSNGetDatum(s->confirmed_flush);
		n[U_CONFIRMED][k] = XLogRecPtrIsInvalid(s->confirmed_flush);
		v[U_CATALOG_XMIN][k] = TransactionIdGetDatum(s->catalog_xmin);
		n[U_CATALOG_XMIN][k] = !TransactionIdIsValid(s->catalog_xmin);
		v[U_XMIN][k] = TransactionIdGetDatum(s->xmin);
		n[U_XMIN][k] = !TransactionIdIsValid(s->xmin);
		v[U_INVALIDATED][k] = BoolGetDatum(s->invalidated);
		v[U_TWO_PHASE][k] = BoolGetDatum(s->two_phase);
		v[U_TWO_PHASE_AT][k] = LSNGetDatum(s->two_phase_at);
		n[U_TWO_PHASE_AT][k] = !s->two_phase;
		v[U_SNAPSHOT_MOVED][k] = BoolGetDatum(moved);
		n[U_SNAPSHOT][k] = true;
		if (s->logical && moved)
		{
			bytea	   *snapshot = sf_snapshot_read(s->restart_lsn);

			v[U_SNAPSHOT][k] = PointerGetDatum(snapshot);
			n[U_SNAPSHOT][k] = snapshot == NULL;
		}
		k++;
	}
	if (k == 0)
		return 0;

	for (int c = 0; c < U_NCOLUMNS; c++)
	{
		args[c] = sf_array(v[c], n[c], k, elmtypes[c]);
		types[c] = get_array_type(elmtypes[c]);
	}
	args[U_NCOLUMNS] = Int64GetDatum((int64) GetSystemIdentifier());
	types[U_NCOLUMNS] = INT8OID;
	args[U_NCOLUMNS + 1] = Int32GetDatum((int32) sf_insert_timeline());
	types[U_NCOLUMNS + 1] = INT4OID;

	sf_spi_check(SPI_execute_with_args("UPDATE slot_failover.slots AS s SET"
									   " restart_lsn = u.restart_lsn,"
									   " confirmed_flush_lsn = u.confirmed_flush_lsn,"
									   " catalog_xmin = u.catalog_xmin,"
									   " slot_xmin = u.slot_xmin,"
									   " invalidated = u.invalidated,"
									   " two_phase = u.two_phase,"
									   " two_phase_at = u.two_phase_at,"
									   " snapshot = CASE WHEN u.snapshot_moved"
									   "  THEN u.snapshot ELSE s.snapshot END,"
									   " system_identifier = $12,"
									   " timeline = $13,"
									   " updated_at = pg_catalog.now()"
									   " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
									   "  pg_catalog.unnest($3), pg_catalog.unnest($4),"
									   "  pg_catalog.unnest($5), pg_catalog.unnest($6),"
									   "  pg_catalog.unnest($7), pg_catalog.unnest($8),"
									   "  pg_catalog.unnest($9), pg_catalog.unnest($10),"
									   "  pg_catalog.unnest($11))"
									   "  AS u(slot_name, slot_identity, restart_lsn,"
									   "  confirmed_flush_lsn, catalog_xmin, slot_xmin, invalidated,"
									   "  two_phase, two_phase_at, snapshot_moved, snapshot)"
									   " WHERE s.slot_name OPERATOR(pg_catalog.=) u.slot_name"
									   " AND s.slot_identity OPERATOR(pg_catalog.=) u.slot_identity",
									   U_NCOLUMNS + 2, types, args, NULL, false, 0),
				 SPI_OK_UPDATE);
	return (int) SPI_processed;
}

/*
 * Delete the rows we locked of slots that are gone or were created again.
 */
static int
sf_delete_rows(MarkedSlot **deletes, int ndeletes)
{
	Datum	   *names = palloc(sizeof(Datum) * Max(ndeletes, 1));
	Datum	   *identities = palloc(sizeof(Datum) * Max(ndeletes, 1));
	Datum		args[2];
	Oid			types[2] = {NAMEARRAYOID, INT8ARRAYOID};
	int			k = 0;

	for (int r = 0; r < ndeletes; r++)
	{
		if (deletes[r]->locked_out_since != 0)
			continue;
		names[k] = NameGetDatum(&deletes[r]->name);
		identities[k++] = Int64GetDatum(deletes[r]->identity);
	}
	if (k == 0)
		return 0;

	args[0] = sf_array(names, NULL, k, NAMEOID);
	args[1] = sf_array(identities, NULL, k, INT8OID);
	sf_spi_check(SPI_execute_with_args("DELETE FROM slot_failover.slots AS s"
									   " USING ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))"
									   "  AS d(slot_name, slot_identity)"
									   " WHERE s.slot_name OPERATOR(pg_catalog.=) d.slot_name"
									   " AND s.slot_identity OPERATOR(pg_catalog.=) d.slot_identity",
									   2, types, args, NULL, false, 0),
				 SPI_OK_DELETE);
	return (int) SPI_processed;
}

/*
 * Show the rows a user's transaction keeps us from writing in the status
 * view (copy_status(), which on a standby shows the copies).
 */
static void
sf_publish_locked_out(void)
{
	HASH_SEQ_STATUS seq;
	MarkedSlot *row;
	int			n = 0;

	LWLockAcquire(sf_shared->copies_lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, marks);
	while ((row = hash_seq_search(&seq)) != NULL)
	{
		SlotFailoverCopyStatus *status;

		if (row->locked_out_since == 0)
			continue;
		if (n >= sf_shared->max_copies)
		{
			hash_seq_term(&seq);
			break;
		}
		status = &sf_shared->copies[n++];
		status->name = row->name;
		status->state = SF_COPY_WAITING;
		strlcpy(status->reason, SF_LOCKED_OUT_REASON, SF_REASON_LEN);
		status->changed_at = row->locked_out_since;
	}
	sf_shared->ncopies = n;
	LWLockRelease(sf_shared->copies_lock);
}

/*
 * Warn about the rows the worker could not write in its last cycle, as it
 * published them: sync() calls this on a primary, so that its caller learns
 * what the table does not reflect yet.
 */
void
sf_primary_warn_locked_out(void)
{
	int			n;
	NameData   *names;

	LWLockAcquire(sf_shared->copies_lock, LW_SHARED);
	n = sf_shared->ncopies;
	names = palloc(sizeof(NameData) * Max(n, 1));
	for (int i = 0; i < n; i++)
		names[i] = sf_shared->copies[i].name;
	LWLockRelease(sf_shared->copies_lock);

	for (int i = 0; i < n; i++)
		ereport(WARNING,
				(errmsg("row of replication slot \"%s\" was not updated",
						NameStr(names[i])),
				 errdetail("The row is locked by another transaction, for instance an open mark() or unmark(); the worker writes it once that transaction ends.")));
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
