/*-------------------------------------------------------------------------
 *
 * slot_failover.h
 *		Symbols shared by the files of slot_failover.
 *
 * worker.c owns the GUCs, the shared state and the worker's loop;
 * primary.c owns the table slot_failover.slots while the node is a
 * primary; slotsync.c the copies of the marked slots on a standby;
 * marker.c the files that tie a row to one incarnation of a slot;
 * snapshot.c the decoding snapshots that travel with logical slots' rows;
 * gate.c the wait that keeps logical clients behind the standbys.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  slot_failover.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_FAILOVER_H
#define SLOT_FAILOVER_H

#include <signal.h>

#include "access/transam.h"
#include "access/xlogdefs.h"
#include "executor/spi.h"
#include "storage/lwlock.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#define SF_SCHEMA			"slot_failover"
#define SF_TABLE			"slots"
#define SF_ERROR_LEN		256
#define SF_REASON_LEN		192

/* state of a copy on a standby; order matches copy_status()'s names */
typedef enum SlotFailoverCopyState
{
	SF_COPY_READY,
	SF_COPY_WAITING,
	SF_COPY_CONFLICT,
	SF_COPY_ERROR
} SlotFailoverCopyState;

/* what the standby's worker found for one row, for the status view */
typedef struct SlotFailoverCopyStatus
{
	NameData	name;
	SlotFailoverCopyState state;
	char		reason[SF_REASON_LEN];
	TimestampTz changed_at;
} SlotFailoverCopyStatus;

/* what a walsender of a marked slot waits for (gate.c) */
typedef struct SlotFailoverGateStatus
{
	pid_t		pid;
	bool		waiting;
	NameData	slot;			/* the slot it streams */
	NameData	standby;		/* a listed slot that has not flushed lsn */
	XLogRecPtr	lsn;
	TimestampTz since;
} SlotFailoverGateStatus;

/*
 * State shared between the worker and the backends that call the SQL
 * functions.  One instance, in the main shared memory segment.
 *
 * mutex protects every field up to sync_cv (which has its own lock) but
 * shutdown_requested, a flag written by a signal handler; copies_lock (the
 * first slot_failover LWLock) protects ncopies and copies, gates_lock (the
 * second) the array gates, one entry per replication slot index,
 * markers_lock (the third) serializes the changes of marker files on a
 * primary (marker.c).  The pointers and max_copies are set once, at startup.
 */
typedef struct SlotFailoverShared
{
	slock_t		mutex;

	/* the running worker, or 0 and NULL */
	pid_t		worker_pid;
	Latch	   *worker_latch;

	/* what the worker reports about itself, shown by worker_status() */
	bool		in_recovery;	/* role of the last cycle */
	TimestampTz started_at;		/* when the worker started */
	uint64		cycles;			/* cycles run since start */
	uint64		rows_written;	/* rows inserted, updated or deleted */
	TimestampTz last_cycle_at;	/* end of the last cycle */
	double		last_cycle_ms;	/* how long the last cycle took */
	TimestampTz last_write_at;	/* commit time of the last write */
	TimestampTz last_error_at;	/* when the last cycle failed */
	char		last_error[SF_ERROR_LEN];	/* and why */

	/*
	 * Set, without the mutex, by the postmaster's handler of a fast or smart
	 * shutdown request (gate.c); gated walsenders read it and exit.  Zeroed
	 * with the struct, so a crash restart clears it.
	 */
	volatile sig_atomic_t shutdown_requested;

	/*
	 * Bumped at commit of every transaction that ran mark() or unmark(): the
	 * worker reloads its copy of the table when it moved.
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

	/* serializes read-modify-write of marker files (marker.c) */
	LWLock	   *markers_lock;

	/* walsenders of marked slots: what they wait for */
	LWLock	   *gates_lock;
	SlotFailoverGateStatus *gates;	/* after copies, max_replication_slots */

	/* on a standby: the state of each row's copy, from the last cycle */
	LWLock	   *copies_lock;
	int			max_copies;
	int			ncopies;
	SlotFailoverCopyStatus copies[FLEXIBLE_ARRAY_MEMBER];
} SlotFailoverShared;

/*
 * Column col of an SPI result row, as an LSN or xid; invalid for NULL.
 */
static inline XLogRecPtr
sf_spi_lsn(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? InvalidXLogRecPtr : (XLogRecPtr) DatumGetInt64(d);
}

static inline TransactionId
sf_spi_xid(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? InvalidTransactionId : DatumGetTransactionId(d);
}

/* worker.c */
extern PGDLLIMPORT SlotFailoverShared *sf_shared;
extern PGDLLIMPORT char *sf_database;
extern PGDLLIMPORT int sf_naptime;

extern void sf_require_preload(void);
extern void sf_check_function_call(bool needs_worker_database);
extern void sf_wake_worker(void);

/* marker.c */
extern int64 sf_marker_read(const char *slot_name, bool *waiting);
extern void sf_marker_write(const char *slot_name, int64 identity, bool waiting);
extern bool sf_marker_exists(const char *slot_name);
extern bool sf_marker_present(const char *slot_name);
extern void sf_marker_record(const char *slot_name, int64 identity);
extern TransactionId sf_marker_settle(const char *slot_name);
extern void sf_durable_write(const char *path, const char *data, int len);

/* primary.c */
extern Oid	sf_table_oid(void);
extern int	sf_primary_cycle(bool exact);
extern void sf_primary_forget(void);
extern void sf_primary_warn_locked_out(void);

/* snapshot.c */
extern bytea *sf_snapshot_read(XLogRecPtr lsn);
extern void sf_snapshot_write(XLogRecPtr lsn, bytea *data);

/* gate.c */
extern PGDLLIMPORT char *sf_standby_slot_names;
extern void sf_gate_init(void);

/* slotsync.c */
extern void sf_standby_cycle(bool force);
extern void sf_standby_forget(void);
extern void sf_standby_finish(void);
extern void sf_release_held_copies(void);

#endif							/* SLOT_FAILOVER_H */
