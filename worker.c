/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The slot_failover launcher and worker, their shared state and GUCs.
 *
 * slot_failover keeps a row per marked replication slot in the WAL-logged
 * table slot_failover.slots, so that physical replication carries the
 * slots' state to every standby.  This file holds the processes that do
 * the work; primary.c holds the work itself.
 *
 * Two background workers are involved, both started through
 * shared_preload_libraries:
 *
 *	- The launcher, registered at postmaster start, connects to no
 *	  database.  It waits until the database named by
 *	  slot_failover.database exists (one LOG line while it does not), then
 *	  starts the worker and waits for it to exit; when it does, the launcher
 *	  starts it again after SF_RESTART_MS.  Without it, a worker whose
 *	  database does not exist yet could only fail with FATAL at every
 *	  restart.  A launcher that exited is restarted by the postmaster while
 *	  its worker may still run; the new one waits quietly until that worker
 *	  exits.  In binary-upgrade mode (pg_upgrade) no launcher is registered.
 *
 *	- The worker, connected to slot_failover.database, runs one cycle every
 *	  slot_failover.naptime, or at once when its latch is set (by mark(),
 *	  unmark() or sync()).  A cycle asks the server whether it is in
 *	  recovery and does that role's work.  An ERROR inside a cycle is
 *	  logged, shown by worker_status(), and retried after SF_RESTART_MS;
 *	  it does not end the process.  The worker is a superuser in a database
 *	  others may own: its session's search_path is empty, and its statements
 *	  name every operator and function with its schema.
 *
 * Both start at consistent state, so they also run on a hot standby, and
 * the worker changes role by itself when the standby is promoted.
 *
 * Shared state (SlotFailoverShared in slot_failover.h) is one struct in
 * the main shared memory segment.  Its spinlock protects every field but
 * the condition variable; nothing is done while it is held but copying.
 * Only one worker may run: the worker stores its PID there under the
 * spinlock at start, refuses to run if another one is stored, and clears
 * it in a before_shmem_exit callback.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "utils/snapmgr.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "slot_failover.h"

PG_MODULE_MAGIC;

/* how often the launcher looks for a missing database */
#define SF_DATABASE_POLL_MS		1000

/* pause before a worker is restarted, or a failed cycle is retried */
#define SF_RESTART_MS			5000

/* number of columns of worker_status() */
#define SF_WORKER_STATUS_COLS	10

PGDLLEXPORT void slot_failover_launcher_main(Datum main_arg);
PGDLLEXPORT void slot_failover_worker_main(Datum main_arg);

PG_FUNCTION_INFO_V1(slot_failover_sync);
PG_FUNCTION_INFO_V1(slot_failover_worker_status);

void		_PG_init(void);

static Size sf_shmem_size(void);
static void sf_shmem_request(void);
static void sf_shmem_startup(void);
static bool sf_check_database(char **newval, void **extra, GucSource source);
static void sf_register_launcher(void);
static BackgroundWorkerHandle *sf_start_worker(void);
static bool sf_database_exists(void);
static bool sf_worker_running(void);
static void sf_wait(long timeout_ms);
static void sf_pin_session_settings(void);
static void sf_worker_detach(int code, Datum arg);
static void sf_explain_held_copy(ErrorData *edata);
static bool sf_run_cycle(MemoryContext cycle_context);

/* a configuration reload happened since the last cycle */
static bool sf_reloaded = false;

/* the role of the worker's last cycle; a primary until one has run */
static bool sf_was_in_recovery = false;
static bool sf_first_cycle = true;

static emit_log_hook_type prev_emit_log_hook = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

SlotFailoverShared *sf_shared = NULL;

/* GUC variables */
char	   *sf_database = NULL;
int			sf_naptime = 100;

/*
 * Module load callback.
 *
 * The reloadable GUC is defined even without preload, so that SHOW and
 * ALTER SYSTEM know it; everything else needs shared_preload_libraries.
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
	emit_log_hook = sf_explain_held_copy;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = sf_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = sf_shmem_startup;

	/*
	 * pg_upgrade starts both clusters in binary-upgrade mode, where nothing
	 * but pg_upgrade may connect to a database or write to one: a worker
	 * connected to slot_failover.database would make it fail to drop and
	 * create that database in the new cluster.
	 */
	if (!IsBinaryUpgrade)
		sf_register_launcher();
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
 * Size of the shared state: room for the state of twice as many copies as
 * there can be slots, since rows that cannot get a slot have a state too.
 */
static Size
sf_shmem_size(void)
{
	Size		size = offsetof(SlotFailoverShared, copies);

	size = add_size(size, mul_size(sizeof(SlotFailoverCopyStatus),
								   2 * max_replication_slots));
	size = MAXALIGN(size);
	return add_size(size, mul_size(sizeof(SlotFailoverGateStatus),
								   max_replication_slots));
}

/*
 * Ask for our share of shared memory, and our LWLock.
 */
static void
sf_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(sf_shmem_size());
	RequestNamedLWLockTranche("slot_failover", 3);
}

/*
 * Create or attach to the shared state.
 */
static void
sf_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	sf_shared = ShmemInitStruct("slot_failover", sf_shmem_size(), &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche("slot_failover");

		memset(sf_shared, 0, sf_shmem_size());
		SpinLockInit(&sf_shared->mutex);
		ConditionVariableInit(&sf_shared->sync_cv);
		sf_shared->copies_lock = &locks[0].lock;
		sf_shared->gates_lock = &locks[1].lock;
		sf_shared->markers_lock = &locks[2].lock;
		sf_shared->max_copies = 2 * max_replication_slots;
		sf_shared->gates = (SlotFailoverGateStatus *)
			((char *) sf_shared +
			 MAXALIGN(offsetof(SlotFailoverShared, copies) +
					  sizeof(SlotFailoverCopyStatus) * sf_shared->max_copies));
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Say why a copy on a standby cannot be used, in the errors PostgreSQL
 * raises for it.  The worker holds every copy (slotsync.c), so dropping,
 * advancing or streaming from one fails with "active for PID n": when n is
 * the worker, add a hint that names slot_failover.  Logical decoding fails
 * earlier, for any slot, during recovery: add the hint when this standby
 * has copies.  ncopies is read without its lock; this is only a hint.
 */
static void
sf_explain_held_copy(ErrorData *edata)
{
	const char *hint = NULL;

	if (edata->elevel == ERROR && edata->hint == NULL &&
		edata->message_id != NULL && sf_shared != NULL)
	{
		const char *pid_text = strrchr(edata->message, ' ');

		if (strcmp(edata->message_id, "replication slot \"%s\" is active for PID %d") == 0 &&
			pid_text != NULL)
		{
			pid_t		worker_pid;

			SpinLockAcquire(&sf_shared->mutex);
			worker_pid = sf_shared->worker_pid;
			SpinLockRelease(&sf_shared->mutex);
			if (worker_pid != 0 && atoi(pid_text + 1) == (int) worker_pid)
				hint = _("The slot is a copy kept by slot_failover for failover; it can be used once this standby is promoted.");
		}
		else if (strcmp(edata->message_id, "logical decoding cannot be used while in recovery") == 0 &&
				 sf_shared->ncopies > 0)
			hint = _("The logical slots of this standby are copies kept by slot_failover for failover; they can be used once this standby is promoted.");
	}

	if (hint != NULL)
		edata->hint = MemoryContextStrdup(ErrorContext, hint);

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * Register the launcher; the postmaster starts it at consistent state and
 * restarts it if it ever dies.
 */
static void
sf_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = SF_RESTART_MS / 1000;
	strlcpy(worker.bgw_library_name, "slot_failover", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "slot_failover_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "slot_failover launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "slot_failover launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/*
 * Start the worker; it is never restarted by the postmaster, the launcher
 * does that.  Returns NULL if no background worker slot was free.
 */
static BackgroundWorkerHandle *
sf_start_worker(void)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "slot_failover", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "slot_failover_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "slot_failover worker", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "slot_failover worker", BGW_MAXLEN);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		ereport(LOG,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start the slot_failover worker"),
				 errhint("You might need to increase \"%s\".",
						 "max_worker_processes")));
		return NULL;
	}
	return handle;
}

/*
 * Main entry point of the launcher.
 */
void
slot_failover_launcher_main(Datum main_arg)
{
	bool		said_missing = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: we only read the shared catalog pg_database */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	for (;;)
	{
		BackgroundWorkerHandle *handle;

		CHECK_FOR_INTERRUPTS();

		if (!sf_database_exists())
		{
			if (!said_missing)
				ereport(LOG,
						(errmsg("slot_failover is waiting for database \"%s\" to be created",
								sf_database),
						 errhint("Create the database, or set \"%s\" to an existing one and restart the server.",
								 "slot_failover.database")));
			said_missing = true;
			sf_wait(SF_DATABASE_POLL_MS);
			continue;
		}
		said_missing = false;

		/*
		 * A worker started by the launcher that ran before us (the
		 * postmaster restarts a launcher that exited) may still run: wait
		 * for it to exit rather than start one that would refuse to run.
		 */
		if (sf_worker_running())
		{
			sf_wait(SF_DATABASE_POLL_MS);
			continue;
		}

		handle = sf_start_worker();
		if (handle != NULL)
		{
			if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
				proc_exit(1);
			pfree(handle);
		}

		sf_wait(SF_RESTART_MS);
	}
}

/*
 * Does the database named by slot_failover.database exist?
 *
 * Without a database we cannot use the catalog caches, only a plain scan
 * of the shared catalog pg_database, as the autovacuum launcher does.
 */
static bool
sf_database_exists(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	bool		exists = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!exists &&
		   (tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		exists = strcmp(NameStr(db->datname), sf_database) == 0;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	CommitTransactionCommand();
	return exists;
}

/*
 * Is a worker running?  The PID it stores is cleared when it exits.
 */
static bool
sf_worker_running(void)
{
	pid_t		worker_pid;

	SpinLockAcquire(&sf_shared->mutex);
	worker_pid = sf_shared->worker_pid;
	SpinLockRelease(&sf_shared->mutex);
	return worker_pid != 0;
}

/*
 * Sleep on our latch, handling interrupts and configuration reloads.
 */
static void
sf_wait(long timeout_ms)
{
	(void) WaitLatch(MyLatch,
					 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 timeout_ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);

	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		sf_reloaded = true;
	}
}

/*
 * Main entry point of the worker.
 */
void
slot_failover_worker_main(Datum main_arg)
{
	MemoryContext cycle_context;
	pid_t		running_pid;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* claim the one worker's place before connecting: a launcher looks */
	SpinLockAcquire(&sf_shared->mutex);
	running_pid = sf_shared->worker_pid;
	if (running_pid == 0)
	{
		sf_shared->worker_pid = MyProcPid;
		sf_shared->worker_latch = MyLatch;
		sf_shared->in_recovery = RecoveryInProgress();
		sf_shared->started_at = GetCurrentTimestamp();
		sf_shared->cycles = 0;
		sf_shared->rows_written = 0;
	}
	SpinLockRelease(&sf_shared->mutex);

	if (running_pid != 0)
	{
		ereport(LOG,
				(errmsg("slot_failover worker is already running under PID %d",
						(int) running_pid)));
		return;
	}
	before_shmem_exit(sf_worker_detach, 0);

	/* the database's owner may disallow connections; we are not a client */
	BackgroundWorkerInitializeConnection(sf_database, NULL,
										 BGWORKER_BYPASS_ALLOWCONN);
	sf_pin_session_settings();

	cycle_context = AllocSetContextCreate(TopMemoryContext,
										  "slot_failover cycle",
										  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		bool		ok = sf_run_cycle(cycle_context);

		sf_wait(ok ? sf_naptime : Max(sf_naptime, SF_RESTART_MS));
	}
}

/*
 * We run as the bootstrap superuser in a database that others may own, and
 * its owner may change the settings every session there inherits (ALTER
 * DATABASE ... SET).  Pin every setting our work depends on, as PostgreSQL's
 * logical replication apply worker (ApplyWorkerMain in
 * replication/logical/worker.c, REL_15) and autovacuum worker
 * (AutoVacWorkerMain) do: an always-secure search path, so that no operator
 * or function our statements name resolves to one of theirs (the
 * statements also qualify every one); our own role; read-write, read
 * committed transactions, which a hot standby can run; no timeouts; and a
 * local synchronous_commit, since the table follows the slots and it is
 * never worth blocking a cycle on a synchronous standby that is away.
 */
static void
sf_pin_session_settings(void)
{
	static const char *const settings[][2] = {
		{"search_path", ""},
		{"role", "none"},
		{"default_transaction_isolation", "read committed"},
		{"default_transaction_read_only", "off"},
		{"default_transaction_deferrable", "off"},
		{"statement_timeout", "0"},
		{"lock_timeout", "0"},
		{"idle_in_transaction_session_timeout", "0"},
		{"synchronous_commit", "local"},
	};

	for (int i = 0; i < lengthof(settings); i++)
		SetConfigOption(settings[i][0], settings[i][1], PGC_SUSET,
						PGC_S_OVERRIDE);
}

/*
 * Forget our PID in shared state when we exit, so that the next worker can
 * start and sync() knows nobody will answer; and let go of the copies we
 * hold, which would otherwise stay active for a process that is gone.
 */
static void
sf_worker_detach(int code, Datum arg)
{
	sf_release_held_copies();

	SpinLockAcquire(&sf_shared->mutex);
	if (sf_shared->worker_pid == MyProcPid)
	{
		sf_shared->worker_pid = 0;
		sf_shared->worker_latch = NULL;
	}
	SpinLockRelease(&sf_shared->mutex);
}

/*
 * One cycle of the worker, in the role the server has now.  Returns false
 * if it failed; the error has then been logged and recorded.
 *
 * A cycle that started while sync() was waiting writes every difference
 * it finds, and tells the waiting backends when it is done.
 */
static bool
sf_run_cycle(MemoryContext cycle_context)
{
	TimestampTz started = GetCurrentTimestamp();
	bool		in_recovery = RecoveryInProgress();
	uint64		sync_request;
	bool		exact;
	int			rows = 0;
	bool		ok = true;
	XLogRecPtr	done_lsn;

	SpinLockAcquire(&sf_shared->mutex);
	sync_request = sf_shared->sync_requested;
	exact = sync_request != sf_shared->sync_completed;
	SpinLockRelease(&sf_shared->mutex);

	MemoryContextReset(cycle_context);
	MemoryContextSwitchTo(cycle_context);

	PG_TRY();
	{
		/* recovery ended: copies that were not ready go */
		if (!in_recovery && (sf_was_in_recovery || sf_first_cycle))
		{
			sf_standby_finish();
			sf_primary_forget();
		}
		sf_was_in_recovery = in_recovery;
		sf_first_cycle = false;

		if (in_recovery)
			sf_standby_cycle(exact || sf_reloaded);
		else
			rows = sf_primary_cycle(exact);
		sf_reloaded = false;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cycle_context);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		if (MyReplicationSlot != NULL)
			ReplicationSlotRelease();
		sf_release_held_copies();
		AbortOutOfAnyTransaction();
		LWLockReleaseAll();
		sf_primary_forget();
		sf_standby_forget();
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();

		SpinLockAcquire(&sf_shared->mutex);
		strlcpy(sf_shared->last_error, edata->message, SF_ERROR_LEN);
		sf_shared->last_error_at = GetCurrentTimestamp();
		SpinLockRelease(&sf_shared->mutex);
		ok = false;
	}
	PG_END_TRY();

	MemoryContextSwitchTo(TopMemoryContext);
	done_lsn = in_recovery ? GetXLogReplayRecPtr(NULL) : GetXLogInsertRecPtr();

	SpinLockAcquire(&sf_shared->mutex);
	sf_shared->in_recovery = in_recovery;
	sf_shared->cycles++;
	sf_shared->last_cycle_at = GetCurrentTimestamp();
	sf_shared->last_cycle_ms =
		(double) (sf_shared->last_cycle_at - started) / 1000.0;
	if (rows > 0)
	{
		sf_shared->rows_written += rows;
		sf_shared->last_write_at = sf_shared->last_cycle_at;
	}
	if (exact)
	{
		sf_shared->sync_completed = sync_request;
		sf_shared->sync_failed = !ok;
		sf_shared->sync_lsn = done_lsn;
	}
	SpinLockRelease(&sf_shared->mutex);

	if (exact)
		ConditionVariableBroadcast(&sf_shared->sync_cv);

	return ok;
}

/*
 * The SQL functions need the shared state, which only preloading creates.
 */
void
sf_require_preload(void)
{
	if (sf_shared == NULL)
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
void
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
 * Tell the worker that the set of marked slots changed.  Called at commit
 * of a transaction that ran mark() or unmark(), when the change is visible.
 */
void
sf_wake_worker(void)
{
	Latch	   *latch;

	SpinLockAcquire(&sf_shared->mutex);
	sf_shared->marks_changed++;
	latch = sf_shared->worker_latch;
	SpinLockRelease(&sf_shared->mutex);

	if (latch != NULL)
		SetLatch(latch);
}

/*
 * slot_failover.sync(): have the worker run a full cycle now, and wait for
 * it.  On a primary the table then reflects the current state of every
 * marked slot.  Returns an LSN: once a standby has replayed up to it, it
 * has that state too.
 *
 * If the worker is not running yet (for instance right after the server
 * started), this waits until it is; statement_timeout bounds the wait.
 */
Datum
slot_failover_sync(PG_FUNCTION_ARGS)
{
	uint64		request;
	Latch	   *latch;
	bool		done = false;
	bool		failed = false;
	XLogRecPtr	lsn = InvalidXLogRecPtr;
	char		error[SF_ERROR_LEN];

	sf_check_function_call(true);

	SpinLockAcquire(&sf_shared->mutex);
	request = ++sf_shared->sync_requested;
	latch = sf_shared->worker_latch;
	SpinLockRelease(&sf_shared->mutex);

	if (latch != NULL)
		SetLatch(latch);

	ConditionVariablePrepareToSleep(&sf_shared->sync_cv);
	for (;;)
	{
		SpinLockAcquire(&sf_shared->mutex);
		if (sf_shared->sync_completed >= request)
		{
			done = true;
			failed = sf_shared->sync_failed;
			lsn = sf_shared->sync_lsn;
			strlcpy(error, sf_shared->last_error, SF_ERROR_LEN);
		}
		SpinLockRelease(&sf_shared->mutex);

		if (done)
			break;
		ConditionVariableSleep(&sf_shared->sync_cv, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();

	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("slot_failover worker could not complete the cycle"),
				 errdetail("The worker reported: %s", error)));
	if (!RecoveryInProgress())
		sf_primary_warn_locked_out();

	PG_RETURN_LSN(lsn);
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
	SlotFailoverShared copy;

	sf_require_preload();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	Assert(tupdesc->natts == SF_WORKER_STATUS_COLS);

	SpinLockAcquire(&sf_shared->mutex);
	memcpy(&copy, sf_shared, sizeof(copy));
	SpinLockRelease(&sf_shared->mutex);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(copy.worker_pid);
	nulls[0] = copy.worker_pid == 0;
	values[1] = CStringGetTextDatum(copy.in_recovery ? "standby" : "primary");
	nulls[1] = copy.worker_pid == 0;
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
