/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The slot_failover launcher and worker: the processes, their loop,
 *		and what they share with the backends.
 *
 * slot_failover keeps a row per marked replication slot in the WAL-logged
 * table slot_failover.slots, so that physical replication carries the
 * slots' state to every standby.  This file holds the processes that do
 * the work; primary.c and standby.c hold each role's work.
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
 * Shared state (WorkerShared) is one struct in the main shared memory
 * segment, private to this file.  Its spinlock protects every field but
 * the condition variable; nothing is done while it is held but copying.
 * Backends reach it through the functions below: sf_worker_sync(),
 * sf_worker_marks_changed(), sf_worker_get_status().  Only one worker may
 * run: the worker stores its PID there under the spinlock at start,
 * refuses to run if another one is stored, and clears it in a
 * before_shmem_exit callback.
 *
 * The log hook that explains errors about copies (sf_worker_explain_error)
 * lives here too, since it recognises the worker's PID.
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
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/slot.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "slot_failover.h"

/* how often the launcher looks for a missing database */
#define SF_DATABASE_POLL_MS		1000

/* pause before a worker is restarted, or a failed cycle is retried */
#define SF_RESTART_MS			5000

/*
 * What the worker shares with the backends.  mutex protects every field
 * but sync_cv.
 */
typedef struct WorkerShared
{
	slock_t		mutex;

	/* the running worker, or 0 and NULL */
	pid_t		worker_pid;
	Latch	   *worker_latch;

	/*
	 * The running launcher, or 0; it holds the worker's copies while no
	 * worker holds them.  Changed under ReplicationSlotControlLock too.
	 * launcher_holder names the launcher as a slot names its holder.
	 */
	pid_t		launcher_pid;
	SfHolder	launcher_holder;

	/* what the worker reports about itself, shown by worker_status() */
	SlotFailoverWorkerStatus status;

	/*
	 * Bumped at the end of every transaction that ran mark() or unmark():
	 * the worker reloads its copy of the table when it moved.
	 */
	uint64		marks_changed;

	/*
	 * sync() asks for a full cycle by bumping sync_requested; the worker sets
	 * sync_completed to the request it saw before it started that cycle, and
	 * sync_failed if the cycle failed, then broadcasts sync_cv.
	 */
	uint64		sync_requested;
	uint64		sync_completed;
	bool		sync_failed;
	XLogRecPtr	sync_lsn;		/* WAL position the last full cycle reached */
	ConditionVariable sync_cv;
} WorkerShared;

PGDLLEXPORT void slot_failover_launcher_main(Datum main_arg);
PGDLLEXPORT void slot_failover_worker_main(Datum main_arg);

static BackgroundWorkerHandle *sf_start_worker(void);
static bool sf_database_exists(void);
static bool sf_worker_running(void);
static void sf_wait(long timeout_ms);
static void sf_pin_session_settings(void);
static void sf_worker_detach(int code, Datum arg);
static void sf_launcher_detach(int code, Datum arg);
static void sf_hand_over(int code, Datum arg);
static SfHolder sf_launcher_holder(void);
static void sf_launcher_let_go(void);
static bool sf_run_cycle(MemoryContext cycle_context);
static void sf_cycle_failed(MemoryContext cycle_context);
static void sf_worker_sigterm(SIGNAL_ARGS);

static WorkerShared *worker_shared = NULL;

/* a configuration reload happened since the last cycle */
static bool sf_reloaded = false;

/* the launcher holds our copies: take them back before anything else */
static bool sf_handed_over = true;

/* the role of the worker's last cycle; a primary until one has run */
static bool sf_was_in_recovery = false;
static bool sf_first_cycle = true;

/*
 * Ask for the shared state's memory; from shmem_request_hook.
 */
void
sf_worker_shmem_request(void)
{
	RequestAddinShmemSpace(sizeof(WorkerShared));
}

/*
 * Create or attach to the shared state; from shmem_startup_hook, which
 * holds AddinShmemInitLock.
 */
void
sf_worker_shmem_init(void)
{
	bool		found;

	worker_shared = ShmemInitStruct("slot_failover worker",
									sizeof(WorkerShared), &found);
	if (!found)
	{
		memset(worker_shared, 0, sizeof(WorkerShared));
		worker_shared->launcher_holder = SF_NOBODY;
		SpinLockInit(&worker_shared->mutex);
		ConditionVariableInit(&worker_shared->sync_cv);
	}
}

/*
 * Was the library preloaded, so that the shared state exists?
 */
bool
sf_worker_preloaded(void)
{
	return worker_shared != NULL;
}

/*
 * Say why a copy on a standby cannot be used, in the errors PostgreSQL
 * raises for it; slot_failover.c's emit_log_hook calls this.  The worker
 * holds every copy (copies.c), so dropping,
 * advancing or streaming from one fails with "active for PID n": when n is
 * the worker, or the launcher that holds them while no worker does, add a
 * hint that names slot_failover.  Logical decoding fails
 * earlier, for any slot, during recovery: add the hint when this standby
 * has copies (sf_status_count(), read without its lock: only a hint).
 */
void
sf_worker_explain_error(ErrorData *edata)
{
	const char *hint = NULL;

	if (edata->elevel == ERROR && edata->hint == NULL &&
		edata->message_id != NULL && worker_shared != NULL)
	{
		const char *pid_text = strrchr(edata->message, ' ');

		if (strcmp(edata->message_id, "replication slot \"%s\" is active for PID %d") == 0 &&
			pid_text != NULL)
		{
			pid_t		worker_pid;
			pid_t		launcher_pid;
			int			pid = atoi(pid_text + 1);

			SpinLockAcquire(&worker_shared->mutex);
			worker_pid = worker_shared->worker_pid;
			launcher_pid = worker_shared->launcher_pid;
			SpinLockRelease(&worker_shared->mutex);
			if (pid != 0 && (pid == (int) worker_pid || pid == (int) launcher_pid))
				hint = _("The slot is a copy kept by slot_failover for failover; it can be used once this standby is promoted.");
		}
		else if (strcmp(edata->message_id, "logical decoding cannot be used while in recovery") == 0 &&
				 sf_status_count() > 0)
			hint = _("The logical slots of this standby are copies kept by slot_failover for failover; they can be used once this standby is promoted.");
	}

	if (hint != NULL)
		edata->hint = MemoryContextStrdup(ErrorContext, hint);
}

/*
 * Register the launcher; the postmaster starts it at consistent state and
 * restarts it if it ever dies.
 */
void
sf_worker_register_launcher(void)
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
 * SIGTERM of the launcher and the worker.  After a shutdown request, the
 * postmaster sends it when it stops the backends: tell the gate, so that
 * gated walsenders stop holding messages back, then do what die() does.
 */
static void
sf_worker_sigterm(SIGNAL_ARGS)
{
	sf_gate_backends_stopping();
	die(SF_SIGNAL_ARGS_PASS);
}

/*
 * Main entry point of the launcher.
 */
void
slot_failover_launcher_main(Datum main_arg)
{
	bool		said_missing = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, sf_worker_sigterm);
	BackgroundWorkerUnblockSignals();

	/* no database: we only read the shared catalog pg_database */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	LWLockAcquire(ReplicationSlotControlLock, LW_EXCLUSIVE);
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->launcher_pid = MyProcPid;
	worker_shared->launcher_holder = sf_holder_me();
	SpinLockRelease(&worker_shared->mutex);
	LWLockRelease(ReplicationSlotControlLock);
	before_shmem_exit(sf_launcher_detach, 0);

	for (;;)
	{
		BackgroundWorkerHandle *handle;

		CHECK_FOR_INTERRUPTS();

		if (!sf_database_exists())
		{
			/* no worker will take back the copies we hold */
			sf_launcher_let_go();
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
		/*
		 * Promoted, and no worker can start: once the last pass that
		 * brings the copies to their rows is done, they are slots for
		 * their clients; before, holding them keeps clients from a copy
		 * that is not where its row says.
		 */
		if (handle == NULL && !RecoveryInProgress() &&
			!sf_standby_last_pass_pending())
			sf_launcher_let_go();
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

	SpinLockAcquire(&worker_shared->mutex);
	worker_pid = worker_shared->worker_pid;
	SpinLockRelease(&worker_shared->mutex);
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
	pqsignal(SIGTERM, sf_worker_sigterm);
	BackgroundWorkerUnblockSignals();

	/* claim the one worker's place before connecting: a launcher looks */
	SpinLockAcquire(&worker_shared->mutex);
	running_pid = worker_shared->worker_pid;
	if (running_pid == 0)
	{
		worker_shared->worker_pid = MyProcPid;
		worker_shared->worker_latch = MyLatch;
		worker_shared->status.pid = MyProcPid;
		worker_shared->status.in_recovery = RecoveryInProgress();
		worker_shared->status.started_at = GetCurrentTimestamp();
		worker_shared->status.cycles = 0;
		worker_shared->status.rows_written = 0;
	}
	SpinLockRelease(&worker_shared->mutex);

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
	/* runs before PostgreSQL releases the slot we may have acquired */
	before_shmem_exit(sf_hand_over, 0);
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
 * start and sync() knows nobody will answer (sf_hand_over, which runs
 * first, gave our copies to the launcher); and take our states off the
 * status board, which nobody keeps true until the next
 * worker's first cycle (a copy it showed ready may be invalidated, the
 * reason PostgreSQL terminates a worker that holds it).
 */
static void
sf_worker_detach(int code, Datum arg)
{
	sf_status_publish(NULL, 0);

	SpinLockAcquire(&worker_shared->mutex);
	if (worker_shared->worker_pid == MyProcPid)
	{
		worker_shared->worker_pid = 0;
		worker_shared->worker_latch = NULL;
		worker_shared->status.pid = 0;
	}
	SpinLockRelease(&worker_shared->mutex);
}

/*
 * Give the copies we hold to the launcher, which holds them until a worker
 * takes them back (sf_take_over_copies), so that no client can drop,
 * advance or stream from one meanwhile: when the worker exits (a
 * before_shmem_exit callback, which runs before PostgreSQL releases the
 * slot we may have acquired: we release it first and hold it again), and
 * after a failed cycle, whose abort releases the database locks a logical
 * copy is held under.  The launcher needs none: the startup process takes
 * the copies of a database it drops from it (sf_worker_replay_drops).
 * Without a launcher the copies are let go of.
 */
static void
sf_hand_over(int code, Datum arg)
{
	if (MyReplicationSlot != NULL)
	{
		NameData	name = MyReplicationSlot->data.name;

		ReplicationSlotRelease();
		sf_hold_copy(NameStr(name));
	}
	LWLockAcquire(ReplicationSlotControlLock, LW_EXCLUSIVE);
	sf_hand_over_held_copies(sf_launcher_holder());
	LWLockRelease(ReplicationSlotControlLock);
	sf_release_held_copies();
	sf_handed_over = true;
}

/*
 * Let go of the copies the launcher holds for the worker, when none will
 * take them back.
 */
static void
sf_launcher_let_go(void)
{
	LWLockAcquire(ReplicationSlotControlLock, LW_EXCLUSIVE);
	sf_hand_over_copies(sf_holder_me(), SF_NOBODY, InvalidOid);
	LWLockRelease(ReplicationSlotControlLock);
}

/*
 * The launcher exits: let go of the copies it holds for the worker.
 */
static void
sf_launcher_detach(int code, Datum arg)
{
	LWLockAcquire(ReplicationSlotControlLock, LW_EXCLUSIVE);
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->launcher_pid = 0;
	worker_shared->launcher_holder = SF_NOBODY;
	SpinLockRelease(&worker_shared->mutex);
	sf_hand_over_copies(sf_holder_me(), SF_NOBODY, InvalidOid);
	LWLockRelease(ReplicationSlotControlLock);
}

/*
 * The running launcher as slots record their holder, or SF_NOBODY.
 */
static SfHolder
sf_launcher_holder(void)
{
	SfHolder	holder;

	SpinLockAcquire(&worker_shared->mutex);
	holder = worker_shared->launcher_holder;
	SpinLockRelease(&worker_shared->mutex);
	return holder;
}

/*
 * In the startup process, before (datoid valid) and after (InvalidOid) it
 * replays the drop of a database, which drops the database's slots and
 * fails on one that is active: take the copies of that database the
 * launcher holds from it, and wake the worker, which lets go of those it
 * holds at once (sf_replay_drops_database), so that replay waits for it
 * no longer than the cycle it is in.
 */
void
sf_worker_replay_drops(Oid datoid)
{
	Latch	   *latch;

	SpinLockAcquire(&worker_shared->mutex);
	latch = worker_shared->worker_latch;
	SpinLockRelease(&worker_shared->mutex);

	sf_replay_drops_database(datoid, sf_launcher_holder());
	if (OidIsValid(datoid) && latch != NULL)
		SetLatch(latch);
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
	uint64		marks_changed;
	bool		exact;
	int			rows = 0;
	bool		ok = true;
	XLogRecPtr	done_lsn;

	SpinLockAcquire(&worker_shared->mutex);
	sync_request = worker_shared->sync_requested;
	exact = sync_request != worker_shared->sync_completed;
	marks_changed = worker_shared->marks_changed;
	SpinLockRelease(&worker_shared->mutex);

	MemoryContextReset(cycle_context);
	MemoryContextSwitchTo(cycle_context);

	PG_TRY();
	{
		/* first, before a client can take one */
		if (sf_handed_over)
		{
			StartTransactionCommand();
			sf_take_over_copies(sf_launcher_holder());
			CommitTransactionCommand();
			sf_handed_over = false;
		}

		/*
		 * recovery ended: copies go to the rows replayed, if we saw
		 * recovery; those that were not ready go
		 */
		if (!in_recovery && (sf_was_in_recovery || sf_first_cycle))
		{
			sf_standby_finish(sf_was_in_recovery ||
							  sf_standby_last_pass_pending());
			sf_primary_forget();
		}
		sf_was_in_recovery = in_recovery;
		sf_first_cycle = false;

		if (in_recovery)
			sf_standby_cycle(exact || sf_reloaded);
		else
			rows = sf_primary_cycle(exact, marks_changed);
		sf_reloaded = false;
	}
	PG_CATCH();
	{
		sf_cycle_failed(cycle_context);
		ok = false;
	}
	PG_END_TRY();

	MemoryContextSwitchTo(TopMemoryContext);
	done_lsn = in_recovery ? GetXLogReplayRecPtr(NULL) : GetXLogInsertRecPtr();

	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->status.in_recovery = in_recovery;
	worker_shared->status.cycles++;
	worker_shared->status.last_cycle_at = GetCurrentTimestamp();
	worker_shared->status.last_cycle_ms =
		(double) (worker_shared->status.last_cycle_at - started) / 1000.0;
	if (rows > 0)
	{
		worker_shared->status.rows_written += rows;
		worker_shared->status.last_write_at = worker_shared->status.last_cycle_at;
	}
	if (exact)
	{
		worker_shared->sync_completed = sync_request;
		worker_shared->sync_failed = !ok;
		worker_shared->sync_lsn = done_lsn;
	}
	SpinLockRelease(&worker_shared->mutex);

	if (exact)
		ConditionVariableBroadcast(&worker_shared->sync_cv);

	return ok;
}

/*
 * Recover from an error in a cycle: report it, let go of every slot and
 * lock, forget what the cycle knew, and record the error for
 * worker_status().  The worker goes on.
 */
static void
sf_cycle_failed(MemoryContext cycle_context)
{
	ErrorData  *edata;

	HOLD_INTERRUPTS();
	MemoryContextSwitchTo(cycle_context);
	edata = CopyErrorData();
	EmitErrorReport();
	FlushErrorState();
	LWLockReleaseAll();
	sf_hand_over(0, 0);
	AbortOutOfAnyTransaction();
	sf_primary_forget();
	sf_standby_forget();
	pgstat_report_activity(STATE_IDLE, NULL);
	RESUME_INTERRUPTS();

	SpinLockAcquire(&worker_shared->mutex);
	strlcpy(worker_shared->status.last_error, edata->message, SF_ERROR_LEN);
	worker_shared->status.last_error_at = GetCurrentTimestamp();
	SpinLockRelease(&worker_shared->mutex);
}

/*
 * Tell the worker that the set of marked slots changed.  Called at commit
 * of a transaction that ran mark() or unmark(), when the change is visible.
 */
void
sf_worker_marks_changed(void)
{
	Latch	   *latch;

	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->marks_changed++;
	latch = worker_shared->worker_latch;
	SpinLockRelease(&worker_shared->mutex);

	if (latch != NULL)
		SetLatch(latch);
}

/*
 * Have the worker run a full cycle now, and wait for it; for sync().
 * Returns the WAL position the cycle reached, or fails as the cycle did.
 *
 * If the worker is not running yet (for instance right after the server
 * started), this waits until it is; statement_timeout bounds the wait.
 */
XLogRecPtr
sf_worker_sync(void)
{
	uint64		request;
	Latch	   *latch;
	bool		done = false;
	bool		failed = false;
	XLogRecPtr	lsn = InvalidXLogRecPtr;
	char		error[SF_ERROR_LEN];

	SpinLockAcquire(&worker_shared->mutex);
	request = ++worker_shared->sync_requested;
	latch = worker_shared->worker_latch;
	SpinLockRelease(&worker_shared->mutex);

	if (latch != NULL)
		SetLatch(latch);

	ConditionVariablePrepareToSleep(&worker_shared->sync_cv);
	for (;;)
	{
		SpinLockAcquire(&worker_shared->mutex);
		if (worker_shared->sync_completed >= request)
		{
			done = true;
			failed = worker_shared->sync_failed;
			lsn = worker_shared->sync_lsn;
			strlcpy(error, worker_shared->status.last_error, SF_ERROR_LEN);
		}
		SpinLockRelease(&worker_shared->mutex);

		if (done)
			break;
		ConditionVariableSleep(&worker_shared->sync_cv, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();

	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("slot_failover worker could not complete the cycle"),
				 errdetail("The worker reported: %s", error)));

	return lsn;
}

/*
 * A copy of what the worker reports about itself, for worker_status().
 */
void
sf_worker_get_status(SlotFailoverWorkerStatus *status)
{
	SpinLockAcquire(&worker_shared->mutex);
	*status = worker_shared->status;
	SpinLockRelease(&worker_shared->mutex);
}
