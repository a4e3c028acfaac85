/*-------------------------------------------------------------------------
 *
 * table.c
 *		Every statement on slot_failover.slots.
 *
 * The table is the contract with every standby: one row per marked slot,
 * holding all a standby needs to keep a copy of it (slot_failover--*.sql).
 * This file alone knows its columns: it reads rows into SlotRow, the one
 * in-memory form of a row (slot_failover.h), and writes them from it.
 * Adding a column changes this file and the SQL scripts only.
 *
 * Statements run through SPI in the caller's transaction, and name every
 * operator and function with its schema: the worker is a superuser in a
 * database others may own.  mark() and unmark() run theirs as the table's
 * owner (sf_table_begin_as_owner), so that a role with the REPLICATION
 * attribute can change rows it has no privilege on; nobody else can.
 *
 * A library newer than the installed SQL objects refuses to touch the
 * table, naming the command that updates them (sf_table_oid).
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/syscache.h"

#include "compat.h"
#include "slot_failover.h"

/* The columns sf_table_read() selects, in order (SPI numbers from 1). */
enum
{
	COL_NAME = 1,
	COL_IDENTITY,
	COL_LOGICAL,
	COL_DATOID,
	COL_PLUGIN,
	COL_TWO_PHASE,
	COL_TWO_PHASE_AT,
	COL_RESTART_LSN,
	COL_CONFIRMED_FLUSH,
	COL_CATALOG_XMIN,
	COL_XMIN,
	COL_INVALIDATED,
	COL_SYSTEM_IDENTIFIER,
	COL_SNAPSHOT
};

#define SF_SELECT_COLUMNS \
	"slot_name, slot_identity, slot_type OPERATOR(pg_catalog.=) 'logical'," \
	" datoid, plugin, two_phase, two_phase_at, restart_lsn," \
	" confirmed_flush_lsn, catalog_xmin, slot_xmin, invalidated," \
	" system_identifier"

static Oid	sf_rel_owner(Oid relid);
static void sf_spi_check(int ret, int expected);
static int64 sf_table_identity_query(const char *sql, Name slot_name,
									 int expected);
static XLogRecPtr sf_spi_lsn(HeapTuple tuple, TupleDesc desc, int col);
static TransactionId sf_spi_xid(HeapTuple tuple, TupleDesc desc, int col);
static Datum sf_array(Datum *values, bool *nulls, int n, Oid elmtype);

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
void
sf_table_begin_as_owner(Oid *save_userid, int *save_sec)
{
	Oid			relid = sf_table_oid();
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
 * Undo sf_table_begin_as_owner.  (On error, transaction abort does both.)
 */
void
sf_table_end_as_owner(Oid save_userid, int save_sec)
{
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * Run a statement on the row of slot_name ($1) that returns its identity
 * (slot_identity, first column) and check its result; returns the
 * identity, or 0 if there is no such row.
 */
static int64
sf_table_identity_query(const char *sql, Name slot_name, int expected)
{
	Oid			types[1] = {NAMEOID};
	Datum		values[1];
	bool		isnull;

	values[0] = NameGetDatum(slot_name);
	sf_spi_check(SPI_execute_with_args(sql, 1, types, values, NULL, false, 0),
				 expected);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The identity of the slot's row, or 0 if it has none.  The row is locked,
 * so that an unmark() still open elsewhere cannot take it away after we
 * find the slot already marked: we wait for it, and then see its outcome.
 */
int64
sf_table_row_identity(Name slot_name)
{
	return sf_table_identity_query("SELECT slot_identity FROM slot_failover.slots"
								   " WHERE slot_name OPERATOR(pg_catalog.=) $1"
								   " FOR NO KEY UPDATE",
								   slot_name, SPI_OK_SELECT);
}

/*
 * Insert (or replace) the slot's row, with its state, a new identity and,
 * for a logical slot, the decoding snapshot serialized at its restart_lsn
 * (NULL if there is none).  Long only because it fills in one parameter
 * per column.
 */
void
sf_table_insert_row(Name slot_name, int64 identity, const SlotState *state,
					bytea *snapshot)
{
	Datum		values[16];
	char		nulls[16];
	Oid			types[16] = {NAMEOID, INT8OID, TEXTOID, OIDOID, NAMEOID,
		NAMEOID, BOOLOID, PG_LSNOID, PG_LSNOID, PG_LSNOID, XIDOID, XIDOID,
	BOOLOID, INT8OID, INT4OID, BYTEAOID};
	NameData	database_name;

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
	}

	values[0] = NameGetDatum(slot_name);
	values[1] = Int64GetDatum(identity);
	values[2] = CStringGetTextDatum(state->logical ? "logical" : "physical");
	values[3] = ObjectIdGetDatum(state->database);
	nulls[3] = state->logical ? ' ' : 'n';
	values[4] = NameGetDatum(&database_name);
	nulls[4] = state->logical ? ' ' : 'n';
	values[5] = NameGetDatum(unconstify(NameData *, &state->plugin));
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
 * Delete the slot's row, for unmark().  Returns the identity it had, or 0 if
 * there was none.
 */
int64
sf_table_delete_row(Name slot_name)
{
	return sf_table_identity_query("DELETE FROM slot_failover.slots"
								   " WHERE slot_name OPERATOR(pg_catalog.=) $1"
								   " RETURNING slot_identity",
								   slot_name, SPI_OK_DELETE_RETURNING);
}

/*
 * Read every row, in the caller's transaction, ordered by slot name.
 * Returns a palloc'd array in the current memory context, or NULL (and
 * *nrows 0) if the extension is not installed.  The decoding snapshots are
 * read only with_snapshot.
 */
SlotRow *
sf_table_read(int *nrows, bool with_snapshot)
{
	SlotRow    *rows;

	*nrows = 0;
	if (!OidIsValid(sf_table_oid()))
		return NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sf_spi_check(SPI_execute(with_snapshot ?
							 "SELECT " SF_SELECT_COLUMNS ", snapshot"
							 " FROM slot_failover.slots ORDER BY slot_name" :
							 "SELECT " SF_SELECT_COLUMNS ", NULL::pg_catalog.bytea"
							 " FROM slot_failover.slots ORDER BY slot_name",
							 true, 0),
				 SPI_OK_SELECT);

	/* in the caller's context: the rows outlive SPI_finish() */
	rows = SPI_palloc(sizeof(SlotRow) * Max(SPI_processed, 1));
	memset(rows, 0, sizeof(SlotRow) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		SlotRow    *row = &rows[i];
		Datum		d;
		bool		isnull;

		row->name = *DatumGetName(SPI_getbinval(tup, desc, COL_NAME, &isnull));
		row->identity = DatumGetInt64(SPI_getbinval(tup, desc, COL_IDENTITY, &isnull));
		row->logical = DatumGetBool(SPI_getbinval(tup, desc, COL_LOGICAL, &isnull));
		d = SPI_getbinval(tup, desc, COL_DATOID, &isnull);
		row->datoid = isnull ? InvalidOid : DatumGetObjectId(d);
		d = SPI_getbinval(tup, desc, COL_PLUGIN, &isnull);
		if (!isnull)
			row->plugin = *DatumGetName(d);
		row->two_phase = DatumGetBool(SPI_getbinval(tup, desc, COL_TWO_PHASE, &isnull));
		row->two_phase_at = sf_spi_lsn(tup, desc, COL_TWO_PHASE_AT);
		row->restart_lsn = sf_spi_lsn(tup, desc, COL_RESTART_LSN);
		row->confirmed_flush = sf_spi_lsn(tup, desc, COL_CONFIRMED_FLUSH);
		row->catalog_xmin = sf_spi_xid(tup, desc, COL_CATALOG_XMIN);
		row->xmin = sf_spi_xid(tup, desc, COL_XMIN);
		row->invalidated = DatumGetBool(SPI_getbinval(tup, desc, COL_INVALIDATED, &isnull));
		row->system_identifier =
			(uint64) DatumGetInt64(SPI_getbinval(tup, desc, COL_SYSTEM_IDENTIFIER, &isnull));
		d = SPI_getbinval(tup, desc, COL_SNAPSHOT, &isnull);
		if (!isnull)
		{
			struct varlena *snapshot = pg_detoast_datum((struct varlena *) DatumGetPointer(d));

			row->snapshot = SPI_palloc(VARSIZE(snapshot));
			memcpy(row->snapshot, snapshot, VARSIZE(snapshot));
		}
	}
	*nrows = (int) SPI_processed;
	SPI_finish();
	return rows;
}

/*
 * Lock the rows of these slots for this transaction, skipping those another
 * transaction holds, so that an open mark() or unmark() delays only its own
 * row.  locked[i] says whether names[i] was locked.
 */
void
sf_table_lock_rows(const NameData *names, int n, bool *locked)
{
	Datum	   *values = palloc(sizeof(Datum) * Max(n, 1));
	Datum		args[1];
	Oid			types[1] = {NAMEARRAYOID};
	HASHCTL		ctl;
	HTAB	   *got;

	for (int i = 0; i < n; i++)
		values[i] = NameGetDatum(unconstify(NameData *, &names[i]));
	args[0] = sf_array(values, NULL, n, NAMEOID);

	/* in the caller's context, not SPI's: it outlives SPI_finish() */
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = NAMEDATALEN;
	ctl.hcxt = CurrentMemoryContext;
	got = hash_create("slot_failover locked rows", Max(n, 1), &ctl,
					  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sf_spi_check(SPI_execute_with_args("SELECT slot_name FROM slot_failover.slots"
									   " WHERE slot_name OPERATOR(pg_catalog.=) ANY ($1)"
									   " FOR UPDATE SKIP LOCKED",
									   1, types, args, NULL, false, 0),
				 SPI_OK_SELECT);

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		name = SPI_getbinval(SPI_tuptable->vals[i],
										 SPI_tuptable->tupdesc, 1, &isnull);

		(void) hash_search(got, NameStr(*DatumGetName(name)), HASH_ENTER, NULL);
	}
	SPI_finish();
	for (int i = 0; i < n; i++)
		locked[i] = hash_search(got, NameStr(names[i]), HASH_FIND, NULL) != NULL;
	hash_destroy(got);
}

/*
 * Update the rows of these slots (name and identity must match) with the
 * positions they carry.  A row's snapshot is replaced where
 * snapshot_moved says so (its restart_lsn moved), by rows[i].snapshot or
 * NULL.  Caller holds the rows' locks.  Returns the number of rows
 * updated.  Long only because it builds one array parameter per column,
 * so that all rows go in one statement.
 */
int
sf_table_update_rows(const SlotRow *rows, const bool *snapshot_moved, int nrows)
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
	int			updated;

	if (nrows == 0)
		return 0;
	for (int c = 0; c < U_NCOLUMNS; c++)
	{
		v[c] = palloc(sizeof(Datum) * nrows);
		n[c] = palloc0(sizeof(bool) * nrows);
	}
	for (; k < nrows; k++)
	{
		const SlotRow *s = &rows[k];

		v[U_NAME][k] = NameGetDatum(unconstify(NameData *, &s->name));
		v[U_IDENTITY][k] = Int64GetDatum(s->identity);
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
		v[U_SNAPSHOT_MOVED][k] = BoolGetDatum(snapshot_moved[k]);
		v[U_SNAPSHOT][k] = PointerGetDatum(s->snapshot);
		n[U_SNAPSHOT][k] = s->snapshot == NULL;
	}

	for (int c = 0; c < U_NCOLUMNS; c++)
	{
		args[c] = sf_array(v[c], n[c], k, elmtypes[c]);
		types[c] = get_array_type(elmtypes[c]);
	}
	args[U_NCOLUMNS] = Int64GetDatum((int64) GetSystemIdentifier());
	types[U_NCOLUMNS] = INT8OID;
	args[U_NCOLUMNS + 1] = Int32GetDatum((int32) sf_insert_timeline());
	types[U_NCOLUMNS + 1] = INT4OID;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
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
	updated = (int) SPI_processed;
	SPI_finish();
	return updated;
}

/*
 * Delete the rows of these slots (name and identity must match).  Caller
 * holds the rows' locks.  Returns the number of rows deleted.
 */
int
sf_table_delete_rows(const SlotRow *rows, int nrows)
{
	Datum	   *names = palloc(sizeof(Datum) * Max(nrows, 1));
	Datum	   *identities = palloc(sizeof(Datum) * Max(nrows, 1));
	Datum		args[2];
	Oid			types[2] = {NAMEARRAYOID, INT8ARRAYOID};
	int			k;
	int			deleted;

	if (nrows == 0)
		return 0;
	for (k = 0; k < nrows; k++)
	{
		names[k] = NameGetDatum(unconstify(NameData *, &rows[k].name));
		identities[k] = Int64GetDatum(rows[k].identity);
	}

	args[0] = sf_array(names, NULL, k, NAMEOID);
	args[1] = sf_array(identities, NULL, k, INT8OID);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sf_spi_check(SPI_execute_with_args("DELETE FROM slot_failover.slots AS s"
									   " USING ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))"
									   "  AS d(slot_name, slot_identity)"
									   " WHERE s.slot_name OPERATOR(pg_catalog.=) d.slot_name"
									   " AND s.slot_identity OPERATOR(pg_catalog.=) d.slot_identity",
									   2, types, args, NULL, false, 0),
				 SPI_OK_DELETE);
	deleted = (int) SPI_processed;
	SPI_finish();
	return deleted;
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
 * Column col of an SPI result row, as an LSN or xid; invalid for NULL.
 */
static XLogRecPtr
sf_spi_lsn(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? InvalidXLogRecPtr : (XLogRecPtr) DatumGetInt64(d);
}

static TransactionId
sf_spi_xid(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? InvalidTransactionId : DatumGetTransactionId(d);
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
