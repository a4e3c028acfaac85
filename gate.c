/*-------------------------------------------------------------------------
 *
 * gate.c
 *		Keep logical clients of marked slots behind the failover standbys.
 *
 * A copy on a standby only helps if the standby has every transaction the
 * client has already received; otherwise, after promotion, the client holds
 * transactions the new primary never had.  PostgreSQL 17 gates its logical
 * walsenders with synchronized_standby_slots; PostgreSQL 15 has no hook
 * there, so, as pg_failover_slots does (pg_failover_slots.md, section 3),
 * we wrap the walsender's output: a ClientAuthentication_hook gives every
 * logical walsender a copy of PqCommMethods whose putmessage_noblock looks
 * at each XLogData message ('w') before it goes out.  The message carries
 * the WAL position it describes (a change's LSN, a commit's end); when the
 * walsender streams a marked slot, the message waits until every physical
 * slot in slot_failover.standby_slot_names has a restart_lsn (the standby's
 * flush position) at or past it.  Other slots, other messages, physical
 * walsenders and ordinary backends are never touched.
 *
 * While a message waits, the walsender sends a keepalive every second, so
 * that the client does not time out (pg_failover_slots #46).  The client's
 * replies are left in the socket, and the walsender reads them when the
 * message has gone.  The keepalive reports the position of the last
 * message that went out, never more, so a client cannot confirm what it
 * has not received.  A reload that empties the list releases the wait.
 * After wal_sender_timeout the walsender gives up and exits, so that a
 * shutdown, which waits for every walsender, is not held up for ever; the
 * client reconnects and waits again, still behind the standbys.
 *
 * SQL decoding (pg_logical_slot_get_changes) builds its result in the
 * backend and is not gated; the README says what to do instead.
 *
 * Each waiting walsender shows what it waits for in shared memory owned by
 * this file (gate_shared: one entry per replication slot index, under its
 * LWLock), for the status view (sf_gate_read_waits()).
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  gate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/auth.h"
#include "libpq/libpq.h"
#include "libpq/pqformat.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "port/pg_bswap.h"
#include "replication/slot.h"
#include "replication/walsender.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "slot_failover.h"

/* how often a waiting walsender sends a keepalive */
#define SF_GATE_KEEPALIVE_MS	1000

/* how often it looks at the standbys' slots, at most and at least */
#define SF_GATE_MIN_NAP_MS		1
#define SF_GATE_MAX_NAP_MS		50

/* how long a walsender trusts that its slot is (not) marked */
#define SF_GATE_MARK_CHECK_MS	1000

/* The parsed value of slot_failover.standby_slot_names (GUC extra). */
typedef struct StandbySlots
{
	int			n;
	NameData	names[FLEXIBLE_ARRAY_MEMBER];
} StandbySlots;

static bool sf_check_standby_slot_names(char **newval, void **extra,
										GucSource source);
static void sf_assign_standby_slot_names(const char *newval, void *extra);
static void sf_gate_attach(Port *port, int status);
static void sf_gate_putmessage_noblock(char msgtype, const char *s, size_t len);
static bool sf_gate_slot_marked(void);
static bool sf_gate_passes(XLogRecPtr lsn, const char **blocking,
						   List **trouble);
static void sf_gate_wait(XLogRecPtr lsn);
static void sf_gate_keepalive(void);
static void sf_gate_publish(bool waiting, const char *standby,
							XLogRecPtr lsn, TimestampTz since);

/* What the walsenders of marked slots wait for, in shared memory. */
typedef struct GateShared
{
	LWLock	   *lock;			/* protects gates */
	SlotFailoverGateStatus gates[FLEXIBLE_ARRAY_MEMBER];	/* by slot index */
} GateShared;

#define SF_GATE_TRANCHE		"slot_failover gate"

static GateShared *gate_shared = NULL;

/* GUC variable, and its parsed form */
char	   *sf_standby_slot_names = NULL;
static StandbySlots *standby_slots = NULL;

static ClientAuthentication_hook_type prev_client_auth_hook = NULL;

/* this walsender's original output methods, and ours */
static const PQcommMethods *sf_prev_comm_methods = NULL;
static PQcommMethods sf_gate_comm_methods;

/* every listed standby has flushed up to here, as last seen */
static XLogRecPtr gate_passed_upto = InvalidXLogRecPtr;

/* position of the last message that went out, for keepalives */
static XLogRecPtr gate_last_sent = InvalidXLogRecPtr;

/* is MyReplicationSlot marked, and when did we look */
static ReplicationSlot *gate_checked_slot = NULL;
static bool gate_slot_marked = false;
static TimestampTz gate_checked_at = 0;

/*
 * Define the GUC and hook into client authentication.  Called from
 * _PG_init in every process.
 */
void
sf_gate_init(void)
{
	DefineCustomStringVariable("slot_failover.standby_slot_names",
							   "Physical slots of the standbys that logical clients of marked slots must not outrun.",
							   "A logical walsender streaming a marked slot sends nothing until every listed slot has flushed the WAL it describes. Empty turns this off.",
							   &sf_standby_slot_names,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   sf_check_standby_slot_names,
							   sf_assign_standby_slot_names,
							   NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_client_auth_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = sf_gate_attach;
}

/*
 * Parse and check the list of standby slot names.
 */
static bool
sf_check_standby_slot_names(char **newval, void **extra, GucSource source)
{
	char	   *rawstring = pstrdup(*newval);
	List	   *names;
	ListCell   *lc;
	StandbySlots *parsed;
	int			i = 0;

	if (!SplitIdentifierString(rawstring, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	foreach(lc, names)
	{
		const char *name = lfirst(lc);

		if (strlen(name) >= NAMEDATALEN ||
			strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
		{
			GUC_check_errdetail("\"%s\" is not a valid replication slot name.", name);
			return false;
		}
	}

	parsed = malloc(offsetof(StandbySlots, names) +
					sizeof(NameData) * list_length(names));
	if (parsed == NULL)
		return false;
	parsed->n = list_length(names);
	foreach(lc, names)
		namestrcpy(&parsed->names[i++], lfirst(lc));
	*extra = parsed;
	return true;
}

/*
 * Take the parsed list, and forget what was known about the old one.
 */
static void
sf_assign_standby_slot_names(const char *newval, void *extra)
{
	standby_slots = (StandbySlots *) extra;
	gate_passed_upto = InvalidXLogRecPtr;
}

/*
 * After authentication: give a logical walsender our output methods.
 */
static void
sf_gate_attach(Port *port, int status)
{
	if (prev_client_auth_hook)
		prev_client_auth_hook(port, status);

	if (am_db_walsender && sf_prev_comm_methods == NULL)
	{
		sf_prev_comm_methods = PqCommMethods;
		sf_gate_comm_methods = *PqCommMethods;
		sf_gate_comm_methods.putmessage_noblock = sf_gate_putmessage_noblock;
		PqCommMethods = &sf_gate_comm_methods;
	}
}

/*
 * The walsender's putmessage_noblock: hold back XLogData of a marked slot
 * until the listed standbys have flushed the WAL it describes.  This runs
 * for every message, so a message the standbys are known to have is let
 * through before anything costlier, such as whether the slot is marked.
 */
static void
sf_gate_putmessage_noblock(char msgtype, const char *s, size_t len)
{
	if (msgtype == 'd' && len >= 17 && s[0] == 'w' &&
		standby_slots != NULL && standby_slots->n > 0 &&
		MyReplicationSlot != NULL && SlotIsLogical(MyReplicationSlot))
	{
		uint64		lsn;

		memcpy(&lsn, s + 1, sizeof(lsn));
		lsn = pg_ntoh64(lsn);
		if (lsn != InvalidXLogRecPtr && lsn > gate_passed_upto &&
			sf_gate_slot_marked())
			sf_gate_wait(lsn);
		if (lsn != InvalidXLogRecPtr)
			gate_last_sent = lsn;
	}
	sf_prev_comm_methods->putmessage_noblock(msgtype, s, len);
}

/*
 * Is the slot this walsender streams marked?  Its marker says so; we look
 * again at most once a second, so that mark() and unmark() take effect.
 */
static bool
sf_gate_slot_marked(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (gate_checked_slot != MyReplicationSlot ||
		TimestampDifferenceExceeds(gate_checked_at, now, SF_GATE_MARK_CHECK_MS))
	{
		gate_slot_marked = sf_marker_exists(NameStr(MyReplicationSlot->data.name));
		gate_checked_slot = MyReplicationSlot;
		gate_checked_at = now;
	}
	return gate_slot_marked;
}

/*
 * Have all listed standbys flushed lsn?  If not, *blocking names one that
 * has not, and *trouble collects the names that cannot say (missing,
 * logical, or with no standby connected).
 */
static bool
sf_gate_passes(XLogRecPtr lsn, const char **blocking, List **trouble)
{
	XLogRecPtr	upto = InvalidXLogRecPtr;
	bool		passes = true;

	*blocking = NULL;
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < standby_slots->n; i++)
	{
		const char *name = NameStr(standby_slots->names[i]);
		ReplicationSlot *slot = SearchNamedReplicationSlot(name, false);
		XLogRecPtr	flushed = InvalidXLogRecPtr;
		bool		active = false;

		if (slot != NULL && SlotIsPhysical(slot))
		{
			SpinLockAcquire(&slot->mutex);
			flushed = slot->data.restart_lsn;
			active = slot->active_pid != 0;
			SpinLockRelease(&slot->mutex);
		}
		if (slot == NULL || !SlotIsPhysical(slot) || !active)
			*trouble = lappend(*trouble, psprintf("%s", name));
		if (flushed < lsn)
		{
			passes = false;
			if (*blocking == NULL)
				*blocking = pstrdup(name);
		}
		else if (upto == InvalidXLogRecPtr || flushed < upto)
			upto = flushed;
	}
	LWLockRelease(ReplicationSlotControlLock);

	if (passes)
		gate_passed_upto = upto;
	return passes;
}

/*
 * Wait until every listed standby has flushed lsn, keeping the client's
 * connection alive.
 */
static void
sf_gate_wait(XLogRecPtr lsn)
{
	TimestampTz since = GetCurrentTimestamp();
	TimestampTz last_keepalive = since;
	List	   *warned = NIL;
	const char *published = NULL;
	long		nap = SF_GATE_MIN_NAP_MS;

	for (;;)
	{
		const char *blocking;
		List	   *trouble = NIL;
		ListCell   *lc;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (standby_slots == NULL || standby_slots->n == 0)
			break;

		if (sf_gate_passes(lsn, &blocking, &trouble))
			break;

		foreach(lc, trouble)
		{
			char	   *name = lfirst(lc);

			if (list_member(warned, makeString(name)))
				continue;
			ereport(WARNING,
					(errmsg("replication slot \"%s\" named in \"%s\" has no standby streaming from it",
							name, "slot_failover.standby_slot_names"),
					 errdetail("Logical replication slot \"%s\" waits until that standby flushes WAL up to %X/%X.",
							   NameStr(MyReplicationSlot->data.name),
							   LSN_FORMAT_ARGS(lsn)),
					 errhint("Start the standby, make sure the slot is a physical slot it streams from, or remove it from \"%s\".",
							 "slot_failover.standby_slot_names")));
			warned = lappend(warned, makeString(name));
		}

		if (published == NULL || strcmp(published, blocking) != 0)
		{
			sf_gate_publish(true, blocking, lsn, since);
			published = blocking;
		}

		/*
		 * The walsender cannot see that the server is shutting down while it
		 * waits here (that flag is walsender.c's own), and shutdown waits
		 * for it: give up after wal_sender_timeout, as pg_failover_slots
		 * does, and let the client reconnect and wait again.
		 */
		now = GetCurrentTimestamp();
		if (wal_sender_timeout > 0 &&
			TimestampDifferenceExceeds(since, now, wal_sender_timeout))
			ereport(FATAL,
					(errmsg("terminating walsender of replication slot \"%s\": \"%s\" did not flush %X/%X within \"%s\"",
							NameStr(MyReplicationSlot->data.name), blocking,
							LSN_FORMAT_ARGS(lsn), "wal_sender_timeout")));

		if (TimestampDifferenceExceeds(last_keepalive, now, SF_GATE_KEEPALIVE_MS))
		{
			sf_gate_keepalive();
			last_keepalive = now;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 nap, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		nap = Min(nap * 2, SF_GATE_MAX_NAP_MS);
	}

	if (published != NULL)
		sf_gate_publish(false, NULL, InvalidXLogRecPtr, 0);
}

/*
 * Send the client a keepalive that reports only what it has received.
 */
static void
sf_gate_keepalive(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	pq_sendbyte(&buf, 'k');
	pq_sendint64(&buf, gate_last_sent);
	pq_sendint64(&buf, GetCurrentTimestamp());
	pq_sendbyte(&buf, 0);
	sf_prev_comm_methods->putmessage_noblock('d', buf.data, buf.len);
	(void) sf_prev_comm_methods->flush_if_writable();
	pfree(buf.data);
}

/*
 * Show in shared memory what this walsender waits for.
 */
static void
sf_gate_publish(bool waiting, const char *standby, XLogRecPtr lsn,
				TimestampTz since)
{
	SlotFailoverGateStatus *gate;

	if (gate_shared == NULL)
		return;
	gate = &gate_shared->gates[ReplicationSlotIndex(MyReplicationSlot)];

	LWLockAcquire(gate_shared->lock, LW_EXCLUSIVE);
	gate->pid = MyProcPid;
	gate->waiting = waiting;
	gate->slot = MyReplicationSlot->data.name;
	if (standby)
		namestrcpy(&gate->standby, standby);
	gate->lsn = lsn;
	gate->since = since;
	LWLockRelease(gate_shared->lock);
}

/*
 * Shared memory of the gate: one entry per replication slot.
 */
static Size
sf_gate_shmem_size(void)
{
	return add_size(offsetof(GateShared, gates),
					mul_size(sizeof(SlotFailoverGateStatus),
							 max_replication_slots));
}

/*
 * Ask for the gate's shared memory and lock; from shmem_request_hook.
 */
void
sf_gate_shmem_request(void)
{
	RequestAddinShmemSpace(sf_gate_shmem_size());
	RequestNamedLWLockTranche(SF_GATE_TRANCHE, 1);
}

/*
 * Create or attach to the gate's shared memory; from shmem_startup_hook,
 * which holds AddinShmemInitLock.
 */
void
sf_gate_shmem_init(void)
{
	bool		found;

	gate_shared = ShmemInitStruct("slot_failover gate", sf_gate_shmem_size(),
								  &found);
	if (!found)
	{
		memset(gate_shared, 0, sf_gate_shmem_size());
		gate_shared->lock = &(GetNamedLWLockTranche(SF_GATE_TRANCHE))->lock;
	}
}

/*
 * The walsenders of marked slots that wait for a standby now, palloc'd;
 * returns how many.  For gate_status().
 */
int
sf_gate_read_waits(SlotFailoverGateStatus **waits)
{
	int			n = 0;

	*waits = palloc(sizeof(SlotFailoverGateStatus) * max_replication_slots);
	LWLockAcquire(gate_shared->lock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		SlotFailoverGateStatus *gate = &gate_shared->gates[i];

		/* a walsender that died while waiting left its entry behind */
		if (gate->waiting && BackendPidGetProc(gate->pid) != NULL)
			(*waits)[n++] = *gate;
	}
	LWLockRelease(gate_shared->lock);
	return n;
}
