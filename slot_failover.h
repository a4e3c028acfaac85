/*-------------------------------------------------------------------------
 *
 * slot_failover.h
 *		Symbols shared by the files of slot_failover.
 *
 * Declarations are grouped by the file that defines them, in the order in
 * which files may call each other (slot_failover.c's header): a file calls
 * only the files below it.
 *
 * slot_failover.c loads the module: GUCs, hooks, shared memory set-up;
 * functions.c holds the SQL functions; worker.c the launcher, the worker
 * and its loop; primary.c the primary's cycle; standby.c the standby's
 * cycle, which decides what each row's copy needs; copies.c the copies on
 * a standby; gate.c the wait that keeps logical clients behind the standbys;
 * table.c every statement on slot_failover.slots; slots.c the reading of
 * the slot array; marker.c the files that tie a row to one incarnation of
 * a slot; snapshot.c the decoding snapshots that travel with logical
 * slots' rows; status.c the board of the rows' states; files.c durable
 * file writes.
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

#include "access/transam.h"
#include "access/xlogdefs.h"
#include "nodes/pg_list.h"
#include "replication/slot.h"
#include "utils/elog.h"
#include "storage/lwlock.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "compat.h"

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

/* What the worker reports about itself, for worker_status(). */
typedef struct SlotFailoverWorkerStatus
{
	pid_t		pid;			/* the running worker, or 0 */
	bool		in_recovery;	/* role of the last cycle */
	TimestampTz started_at;		/* when the worker started */
	uint64		cycles;			/* cycles run since start */
	uint64		rows_written;	/* rows inserted, updated or deleted */
	TimestampTz last_cycle_at;	/* end of the last cycle */
	double		last_cycle_ms;	/* how long the last cycle took */
	TimestampTz last_write_at;	/* commit time of the last write */
	TimestampTz last_error_at;	/* when the last cycle failed */
	char		last_error[SF_ERROR_LEN];	/* and why */
} SlotFailoverWorkerStatus;

/* What slot_failover needs of a replication slot (slots.c). */
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
	bool		core_failover;	/* 17+: failover = true, core syncs it */
	bool		core_synced;	/* 17+: core's slot sync made it here */
} SlotState;

/* One row of slot_failover.slots, as read and written by table.c. */
typedef struct SlotRow
{
	NameData	name;
	int64		identity;
	bool		logical;
	Oid			datoid;
	NameData	plugin;
	bool		two_phase;
	XLogRecPtr	two_phase_at;	/* invalid if the row has none */
	XLogRecPtr	restart_lsn;
	XLogRecPtr	confirmed_flush;
	TransactionId catalog_xmin;
	TransactionId xmin;
	bool		invalidated;
	uint64		system_identifier;	/* of the cluster that wrote the row */
	bytea	   *snapshot;		/* serialized at restart_lsn, or NULL */
} SlotRow;

/* slot_failover.c */
extern PGDLLIMPORT char *sf_database;
extern PGDLLIMPORT int sf_naptime;

/* worker.c */
extern void sf_worker_shmem_request(void);
extern void sf_worker_shmem_init(void);
extern bool sf_worker_preloaded(void);
extern void sf_worker_register_launcher(void);
extern void sf_worker_explain_error(ErrorData *edata);
extern void sf_worker_marks_changed(void);
extern void sf_worker_replay_drops(Oid datoid);
extern XLogRecPtr sf_worker_sync(void);
extern void sf_worker_get_status(SlotFailoverWorkerStatus *status);

/* primary.c */
extern void sf_primary_init(void);
extern bool sf_primary_mark(Name slot_name, bool missing_ok);
extern int	sf_primary_cycle(bool exact, uint64 generation);
extern void sf_primary_forget(void);

/* standby.c */
extern void sf_standby_cycle(bool force);
extern void sf_standby_forget(void);
extern void sf_standby_finish(bool last_pass);
extern bool sf_standby_last_pass_pending(void);

/* copies.c */
extern void sf_copies_shmem_request(void);
extern void sf_copies_shmem_init(void);
extern void sf_replay_drops_database(Oid datoid, SfHolder holder);
extern void sf_hand_over_copies(SfHolder from, SfHolder to, Oid datoid);
extern void sf_hand_over_held_copies(SfHolder to);
extern void sf_take_over_copies(SfHolder from);
extern bool sf_lock_database(Oid datoid, bool *dropping);
extern void sf_yield_to_replay(void);
extern void sf_create_copy(const SlotRow *row);
extern ReplicationSlot *sf_advance_copy(const SlotRow *row, bool make_ready);
extern bool sf_advance_held_copy(ReplicationSlot *slot, const SlotRow *row);
extern void sf_move_horizons(void);
extern void sf_hold_copy(const char *name);
extern void sf_release_held_copies(void);
extern void sf_drop_copy(const char *name);
extern List *sf_orphan_copies(const char **wanted, int nwanted);
extern void sf_drop_orphan(const char *name);
extern void sf_drop_waiting_copies(void);

/* gate.c */
extern PGDLLIMPORT char *sf_standby_slot_names;
extern void sf_gate_init(void);
extern void sf_gate_shmem_request(void);
extern void sf_gate_shmem_init(void);
extern void sf_gate_backends_stopping(void);
extern int	sf_gate_read_waits(SlotFailoverGateStatus **waits);
extern XLogRecPtr sf_gate_position(const char *slot_name, bool *gated);
extern int	sf_gate_missing(NameData **names);
extern void sf_gate_set_rows(const NameData *names,
							 const XLogRecPtr *two_phase_at, int n);

/* table.c */
extern Oid	sf_table_oid(void);
extern void sf_table_begin_as_owner(Oid *save_userid, int *save_sec);
extern void sf_table_end_as_owner(Oid save_userid, int save_sec);
extern int64 sf_table_row_identity(Name slot_name);
extern void sf_table_insert_row(Name slot_name, int64 identity,
								const SlotState *state, bytea *snapshot);
extern int64 sf_table_delete_row(Name slot_name);
extern SlotRow *sf_table_read(int *nrows, bool with_snapshot);
extern void sf_table_lock_rows(const NameData *names, int n, bool *locked);
extern int	sf_table_update_rows(const SlotRow *rows, const bool *snapshot_moved,
								 int nrows);
extern int	sf_table_delete_rows(const SlotRow *rows, int nrows);

/* slots.c */
extern bool sf_slot_read(const char *name, SlotState *state);
extern void sf_slot_copy(ReplicationSlot *slot, SlotState *state);
extern List *sf_persistent_slot_names(void);

/* marker.c */
extern void sf_marker_shmem_request(void);
extern void sf_marker_shmem_init(void);
extern void sf_marker_lock(void);
extern void sf_marker_unlock(void);
extern int64 sf_marker_read(const char *slot_name, bool *waiting);
extern void sf_marker_write(const char *slot_name, int64 identity, bool waiting);
extern bool sf_marker_exists(const char *slot_name);
extern bool sf_marker_may_auto_mark(const char *slot_name);
extern bool sf_marker_present(const char *slot_name);
extern void sf_marker_record(const char *slot_name, int64 identity);
extern TransactionId sf_marker_settle(const char *slot_name);

/* snapshot.c */
extern bytea *sf_snapshot_read(XLogRecPtr lsn);
extern void sf_snapshot_write(XLogRecPtr lsn, bytea *data);

/* status.c */
extern void sf_status_shmem_request(void);
extern void sf_status_shmem_init(void);
extern void sf_status_publish(const SlotFailoverCopyStatus *entries, int n);
extern int	sf_status_read(SlotFailoverCopyStatus **entries);
extern int	sf_status_count(void);

/* files.c */
extern void sf_durable_write(const char *path, const char *data, int len);
extern bytea *sf_file_read(const char *path);

#endif							/* SLOT_FAILOVER_H */
