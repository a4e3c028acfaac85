/*-------------------------------------------------------------------------
 *
 * slot_failover.c
 *		Module load: the GUCs, the hooks, and the shared memory of
 *		slot_failover.
 *
 * slot_failover keeps a row per marked replication slot in the WAL-logged
 * table slot_failover.slots (table.c), so that physical replication carries
 * the slots' state to every standby; a background worker (worker.c) writes
 * the rows on a primary (primary.c) and keeps copies of the slots on a
 * standby (standby.c, copies.c); a gate keeps logical clients of marked
 * slots behind the failover standbys (gate.c).
 *
 * Files call downwards only, in this order: slot_failover.c, functions.c
 * (the SQL functions), worker.c, then primary.c and standby.c, then
 * copies.c (the standby's slots), then gate.c (told by the primary what
 * the rows say), then table.c, slots.c, marker.c, snapshot.c and
 * status.c, then files.c.  t/000_layers.pl checks it.  Each file that
 * shares memory owns it: this file only asks each owner for its size and
 * lets it initialize.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  slot_failover.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands_xlog.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/elog.h"
#include "utils/guc.h"

#include "compat.h"
#include "slot_failover.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static bool sf_check_database(char **newval, void **extra, GucSource source);
static void sf_shmem_request(void);
static void sf_shmem_startup(void);
static void sf_emit_log(ErrorData *edata);
static void sf_dbase_redo(XLogReaderState *record);

static emit_log_hook_type prev_emit_log_hook = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static sf_redo_function prev_dbase_redo = NULL;

/* GUC variables */
char	   *sf_database = NULL;
int			sf_naptime = 100;

/*
 * Module load callback.
 *
 * The reloadable GUCs are defined even without preload, so that SHOW and
 * ALTER SYSTEM know them; everything else needs shared_preload_libraries.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("slot_failover.naptime",
							"Time between two looks of the worker at the replication slots.",
							"Looking is cheap: a cycle writes only when a marked slot changed.",
							&sf_naptime,
							100, 1, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	sf_primary_init();
	sf_gate_init();

	if (!process_shared_preload_libraries_in_progress)
	{
		sf_reserve_guc_prefix("slot_failover");
		return;
	}

	/* can't define PGC_POSTMASTER variable after startup */
	DefineCustomStringVariable("slot_failover.database",
							   "Database the slot_failover worker connects to, where the extension is installed.",
							   NULL,
							   &sf_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   sf_check_database, NULL, NULL);

	sf_reserve_guc_prefix("slot_failover");

	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = sf_emit_log;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = sf_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = sf_shmem_startup;
	prev_dbase_redo = sf_replace_redo(RM_DBASE_ID, sf_dbase_redo);

	/*
	 * pg_upgrade starts both clusters in binary-upgrade mode, where nothing
	 * but pg_upgrade may connect to a database or write to one: a worker
	 * connected to slot_failover.database would make it fail to drop and
	 * create that database in the new cluster.
	 */
	if (!IsBinaryUpgrade)
		sf_worker_register_launcher();
}

/*
 * Reject a database name that cannot name a database, before the server
 * starts rather than in the worker.
 */
static bool
sf_check_database(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("The database name must not be empty.");
		return false;
	}
	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("The database name must be shorter than %d bytes.",
							NAMEDATALEN);
		return false;
	}
	return true;
}

/*
 * Ask for every owner's shared memory and LWLocks.
 */
static void
sf_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	sf_worker_shmem_request();
	sf_copies_shmem_request();
	sf_status_shmem_request();
	sf_gate_shmem_request();
	sf_marker_shmem_request();
}

/*
 * Let every owner create or attach to its shared memory.
 */
static void
sf_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	sf_worker_shmem_init();
	sf_copies_shmem_init();
	sf_status_shmem_init();
	sf_gate_shmem_init();
	sf_marker_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * emit_log_hook: add slot_failover's hint to errors about its copies
 * (worker.c), then pass the error on.
 */
static void
sf_emit_log(ErrorData *edata)
{
	sf_worker_explain_error(edata);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * Replay of the database resource manager's records, in the startup
 * process.  The drop of a database (DROP DATABASE, and the old location's
 * for ALTER DATABASE ... SET TABLESPACE) drops the database's slots and
 * fails, stopping the standby, on one that is active: the worker is told
 * first, and woken, so that it lets go of that database's copies at once
 * instead of at its next look (sf_worker_replay_drops).
 */
static void
sf_dbase_redo(XLogReaderState *record)
{
	bool		drop = (XLogRecGetInfo(record) & ~XLR_INFO_MASK) == XLOG_DBASE_DROP;

	if (drop)
		sf_worker_replay_drops(((xl_dbase_drop_rec *) XLogRecGetData(record))->db_id);
	prev_dbase_redo(record);
	if (drop)
		sf_worker_replay_drops(InvalidOid);
}
