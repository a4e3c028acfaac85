/*-------------------------------------------------------------------------
 *
 * gate.c
 *		Keep logical clients of marked slots behind the failover standbys.
 *
 * A copy on a standby only helps if the standby has every transaction the
 * client has already received; otherwise, after promotion, the client holds
 * transactions the new primary never had.  PostgreSQL 17 gates its logical
 * walsenders and its SQL decoding functions with synchronized_standby_slots
 * (its walsender.c and slot.c); PostgreSQL 15 has no hook there, so, as
 * pg_failover_slots does (its walsender wrapper), we wrap the
 * walsender's output: a ClientAuthentication_hook gives every walsender a
 * copy of PqCommMethods whose putmessage_noblock looks at each CopyData
 * message of a logical stream before it goes out.  The gate applies while
 * the walsender streams a marked logical slot (its marker file says so,
 * looked at once a second) and slot_failover.standby_slot_names lists
 * slots; the listed physical slots' restart_lsn follows their standbys'
 * flush position.  Messages of other slots and of physical streams are
 * never held, and ordinary backends are never touched.
 *
 * Invariant: no message of a gated walsender carries a WAL position that a
 * listed standby has not flushed.
 *	- XLogData ('w'): its header carries one position (dataStart and walEnd
 *	  alike, walsender.c's WalSndPrepareWrite), but its body may describe
 *	  more (a change row carries its record's start, wal2json's format 1 a
 *	  whole transaction under its first position, pgoutput's BEGIN its
 *	  commit's).  A logical walsender decodes only flushed WAL, so every
 *	  message waits until every listed slot has the local flush position
 *	  sampled when it goes out, as PostgreSQL 17 decodes only what the
 *	  standbys flushed.  Once they have, messages below that pass at once
 *	  (gate_passed_upto).
 *	- A keepalive ('k', also the reply to a status request) carries the
 *	  walsender's sentPtr, which moves past WAL that decodes to nothing.
 *	  It never waits; its walEnd is lowered to the position of the last
 *	  earlier keepalive that the standbys have flushed (a record end: a
 *	  flush position may fall inside a record, sf_gate_lower), but never
 *	  below what the stream has already told the client (gate_last_sent:
 *	  the slot's confirmed_flush when the stream began, at
 *	  START_REPLICATION's CopyBothResponse, which goes through putmessage,
 *	  then every position sent), so that it never goes backwards.  A
 *	  lowered keepalive that tells nothing new goes out at most every
 *	  100 ms (sf_gate_keepalive_out).
 *	- A slot whose two_phase was enabled after marking sends nothing until
 *	  the standbys have its row recording it (sf_gate_row_ready).
 *
 * While a message waits, the walsender sends a keepalive every second, so
 * that the client does not time out (pg_failover_slots #46), and reads no
 * replies: they wait in the socket.  PostgreSQL 15 wakes nobody when a
 * physical slot moves, so the physical walsenders do it for us: each
 * broadcasts standby_moved when its standby's confirmation has moved its
 * listed slot (sf_gate_flush_if_writable, called on every turn of
 * WalSndLoop after the replies are read), as PostgreSQL 17's walsenders
 * broadcast wal_confirm_rcv_cv, and sets the latch of every walsender
 * that lowered a keepalive; a waiting walsender sleeps on it, and looks
 * anyway every 100 ms for slots moved otherwise (an advance by SQL, a
 * reply read just before its walsender stopped).  It handles interrupts
 * and reloads (and, since it consumes ConfigReloadPending, does what
 * walsender.c does after one: SyncRepInitConfig).  It leaves the wait if
 * the slot is unmarked.  A lagging
 * standby never makes it exit: wal_sender_timeout is about the client.
 * The loop allocates nothing but on a reload and for a WARNING, so that a
 * wait of any length keeps the walsender's memory flat.
 *
 * Shutdown.  A shutdown waits for every walsender, and PostgreSQL 15 tells
 * walsenders to stop only through a flag private to walsender.c: a
 * walsender waiting here would hold a fast or smart shutdown for ever.  So
 * the postmaster's handlers of SIGINT and SIGTERM are wrapped (in _PG_init,
 * during shared_preload_libraries; PostmasterMain installed them just
 * before).  A fast shutdown stops the backends at once: its handler sets
 * stopping.  A smart one lets client sessions work until they end, and
 * gated walsenders stream for them meanwhile: its handler only records
 * the request (shutdown_requested).  When the postmaster then stops the
 * backends, it sends SIGTERM to the launcher and the worker, whose
 * handlers call sf_gate_backends_stopping(), which sets stopping.  (If
 * neither runs then, say the launcher waits to be restarted after a
 * crash and has no worker, a gated walsender that waits holds the smart
 * shutdown until its standbys catch up or a fast shutdown is asked for.)
 * From then on, a gated walsender that would have to hold a message, or
 * lower a keepalive, gives the standbys a second to catch up and then
 * exits (FATAL): what it has not sent, its client gets again from the
 * slot.  A crash restart recreates shared memory, and the flags with it;
 * an immediate shutdown signals nobody through us.
 *
 * Which standbys.  slot_failover.standby_slot_names names physical slots,
 * or is '*': the physical slots marked on this node (their rows, as the
 * primary's worker last published them, sf_gate_set_rows) that a standby
 * streams from now (a walsender holds them).  '*' follows the topology:
 * after a failover the new primary gates on its own standbys with nothing
 * to edit, and a slot whose standby is gone, or that no longer exists,
 * is no longer waited for; but a standby that stops streaming no longer
 * holds the clients back either, and may fall behind them.  Until the
 * worker has published the rows after a start or a promotion, '*' lets
 * nothing pass.  slot_failover.standby_slots_min_confirmed (-1: all) is
 * how many of those slots must have flushed a position: it passes once
 * that many have (the k-th greatest position), so that one slow standby
 * of several need not hold the clients.  A listed slot that does not
 * exist gets a WARNING at most once a minute per process, also when the
 * quorum does not need it, and the status view names it
 * (sf_gate_missing).
 *
 * SQL decoding: sf_gate_position() gives the position up to which a marked
 * slot may be consumed, for gate_position() (functions.c), which the gated
 * SQL functions of the 1.1 script use.
 *
 * Locking: the listed slots are read under ReplicationSlotControlLock
 * (shared) and each slot's spinlock.  This file owns shared memory with
 * one entry per replication slot index (gate_shared->slots): its LWLock
 * protects what each waiting walsender shows it waits for, for the status
 * view (sf_gate_read_waits), and what the primary's worker says of each
 * slot's row (sf_gate_set_rows), which '*' also reads.  It may be taken
 * while ReplicationSlotControlLock is held, never the other way round.
 * lowered_procno is written and read without a lock.
 *
 * Copyright (c) 2026, slot_failover developers
 *
 * IDENTIFICATION
 *	  gate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "libpq/auth.h"
#include "libpq/libpq.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "port/pg_bswap.h"
#include "replication/slot.h"
#include "replication/syncrep.h"
#include "replication/walsender.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
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

/* how often a lowered keepalive that tells nothing new may go out */
#define SF_GATE_LOWERED_MS		100

/*
 * How long it sleeps between two looks at the standbys' slots when no
 * physical walsender wakes it: a slot moved by something else than its
 * walsender (pg_replication_slot_advance(), a slot created anew).
 */
#define SF_GATE_NAP_MS			100

/* how often a stopping walsender looks at them */
#define SF_GATE_STOP_NAP_MS		10

/* how long a stopping walsender waits for the standbys before it exits */
#define SF_GATE_STOP_WAIT_MS	1000

/* how long a walsender trusts that its slot is (not) marked */
#define SF_GATE_MARK_CHECK_MS	1000

/* length of a keepalive: 'k', walEnd, sendTime, replyRequested */
#define SF_KEEPALIVE_LEN		(1 + 8 + 8 + 1)

/* how often a process warns about listed slots that do not exist */
#define SF_GATE_MISSING_WARN_MS	60000

/* the greatest quorum slot_failover.standby_slots_min_confirmed takes */
#define SF_GATE_MAX_QUORUM		64

/* The parsed value of slot_failover.standby_slot_names (GUC extra). */
typedef struct StandbySlots
{
	bool		all_marked;		/* '*': the marked slots standbys stream */
	int			n;				/* else the listed slots */
	NameData	names[FLEXIBLE_ARRAY_MEMBER];
} StandbySlots;

/* What is wrong with a listed slot, if anything. */
typedef enum SfStandbyTrouble
{
	SF_STANDBY_FINE,
	SF_STANDBY_MISSING,
	SF_STANDBY_LOGICAL,
	SF_STANDBY_INVALIDATED,
	SF_STANDBY_INACTIVE			/* no walsender streams from it */
} SfStandbyTrouble;

/*
 * One listed slot, as a waiting walsender last saw it; with '*', one per
 * slot index, of which those not waited for are not members.
 */
typedef struct SfStandbySeen
{
	bool		member;
	NameData	name;
	SfStandbyTrouble trouble;
	XLogRecPtr	flushed;
	SfStandbyTrouble warned;	/* the trouble last warned about in this
								 * wait, or SF_STANDBY_FINE */
} SfStandbySeen;

static bool sf_check_standby_slot_names(char **newval, void **extra,
										GucSource source);
static void sf_assign_standby_slot_names(const char *newval, void *extra);
static bool sf_check_min_confirmed(int *newval, void **extra, GucSource source);
static void sf_assign_min_confirmed(int newval, void *extra);
static inline bool sf_gate_on(void);
static int	sf_gate_entries(void);
static void sf_gate_warn_missing(void);
static void sf_gate_shutdown_handler(int signo, siginfo_t *info, void *context);
static void sf_gate_shmem_forget(int code, Datum arg);
static void sf_gate_attach(Port *port, int status);
static int	sf_gate_putmessage(char msgtype, const char *s, size_t len);
static int	sf_gate_flush_if_writable(void);
static void sf_gate_putmessage_noblock(char msgtype, const char *s, size_t len);
static bool sf_gate_slot_marked(void);
static XLogRecPtr sf_gate_standbys_flushed(SfStandbySeen *seen);
static XLogRecPtr sf_gate_wait(XLogRecPtr lsn);
static int	sf_gate_blocking(SfStandbySeen *seen, XLogRecPtr lsn);
static void sf_gate_reload_if_asked(void);
static void sf_gate_warn(const char *name, SfStandbyTrouble trouble,
						 XLogRecPtr lsn);
static void sf_gate_exit_if_shutdown(XLogRecPtr lsn, bool row_ready);
static void sf_gate_keepalive_out(const char *s, XLogRecPtr lsn);
static bool sf_gate_standby_listed(ReplicationSlot *slot);
static void sf_gate_wake(void);
static void sf_gate_keepalive(void);
static XLogRecPtr sf_gate_lower(XLogRecPtr lsn, XLogRecPtr flushed);
static bool sf_gate_row_ready(ReplicationSlot *slot, XLogRecPtr *upto);
static void sf_gate_publish(bool waiting, const char *standby,
							XLogRecPtr lsn, TimestampTz since);


/*
 * What the gate knows of one replication slot: whether its walsender waits,
 * what its row says of two_phase, and whether its walsender wants to hear
 * when the standbys move.
 */
typedef struct GateSlot
{
	/* written by the slot's walsender, under the lock */
	SlotFailoverGateStatus wait;

	/* written by the worker on a primary, under the lock */
	NameData	row_slot;		/* the slot that has a row, or "" */
	XLogRecPtr	row_two_phase_at;	/* two_phase_at the row records, or
									 * InvalidXLogRecPtr for no two_phase */
	XLogRecPtr	row_written_upto;	/* the row says so in WAL before this */

	/*
	 * Written by the slot's walsender without the lock, read by physical
	 * walsenders: the pgprocno of a walsender that lowered a keepalive and
	 * would tell its client more once the standbys move, or -1.  A stale
	 * value costs a spurious wake-up.
	 */
	int			lowered_procno;
} GateSlot;

/* What the walsenders of marked slots wait for, in shared memory. */
typedef struct GateShared
{
	LWLock	   *lock;			/* protects slots */

	/*
	 * Set, without the lock, by the postmaster's handler of a fast or smart
	 * shutdown request.  Nothing stops yet: a smart shutdown lets clients
	 * work until they disconnect.  Zeroed at creation, so a crash restart
	 * clears it.
	 */
	volatile sig_atomic_t shutdown_requested;

	/*
	 * Set, without the lock, by the postmaster's handler of a fast shutdown,
	 * and by the launcher's and the worker's SIGTERM handlers once a smart
	 * shutdown has been requested: the postmaster stops the backends now.
	 * Gated walsenders read it and exit.
	 */
	volatile sig_atomic_t stopping;

	/*
	 * Broadcast by a physical walsender whose slot's restart_lsn has moved,
	 * as PostgreSQL 17 broadcasts wal_confirm_rcv_cv: gated walsenders sleep
	 * on it.
	 */
	ConditionVariable standby_moved;

	/* the worker has published the rows since shared memory was made */
	bool		rows_known;

	GateSlot	slots[FLEXIBLE_ARRAY_MEMBER];	/* by slot index */
} GateShared;

#define SF_GATE_TRANCHE		"slot_failover gate"

static GateShared *volatile gate_shared = NULL;

/* GUC variables, and the parsed form of the list */
char	   *sf_standby_slot_names = NULL;
static StandbySlots *standby_slots = NULL;
static int	sf_min_confirmed = -1;

/* when this process last warned about listed slots that do not exist */
static TimestampTz gate_missing_warned_at = 0;

static ClientAuthentication_hook_type prev_client_auth_hook = NULL;

/* the postmaster's own handlers of SIGINT (fast) and SIGTERM (smart) */
static struct sigaction prev_sigint;
static struct sigaction prev_sigterm;

/* this walsender's original output methods, and ours */
static const PQcommMethods *sf_prev_comm_methods = NULL;
static PQcommMethods sf_gate_comm_methods;

/* every listed standby has flushed up to here, as last seen */
static XLogRecPtr gate_passed_upto = InvalidXLogRecPtr;

/* the highest position this stream has told its client */
static XLogRecPtr gate_last_sent = InvalidXLogRecPtr;

/*
 * Positions of keepalives held back, lowest first: each is the end of a
 * record the walsender had read (its sentPtr), and so a position a client
 * may resume from.  When full, the last one gives way to newer ones.
 */
#define SF_GATE_ENDS			32
static XLogRecPtr gate_ends[SF_GATE_ENDS];
static int	gate_nends = 0;

/* when this stream last sent a lowered keepalive, and is one outstanding */
static TimestampTz gate_lowered_at = 0;
static bool gate_lowered = false;

/* a physical walsender: its slot's restart_lsn when it last broadcast */
static XLogRecPtr gate_broadcast_at = InvalidXLogRecPtr;

/* MyReplicationSlot's two_phase_at, once the standbys had its row */
static XLogRecPtr gate_two_phase_seen = InvalidXLogRecPtr;

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
							   "A logical walsender streaming a marked slot sends nothing until every listed slot "
							   "has flushed the WAL it describes. * stands for the marked physical slots that "
							   "a standby streams from. Empty turns this off.",
							   &sf_standby_slot_names,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   sf_check_standby_slot_names,
							   sf_assign_standby_slot_names,
							   NULL);
	DefineCustomIntVariable("slot_failover.standby_slots_min_confirmed",
							"How many slots of slot_failover.standby_slot_names must have flushed the WAL a message describes.",
							"-1 means all of them.",
							&sf_min_confirmed,
							-1, -1, SF_GATE_MAX_QUORUM,
							PGC_SIGHUP,
							0,
							sf_check_min_confirmed,
							sf_assign_min_confirmed,
							NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_client_auth_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = sf_gate_attach;

	/*
	 * In the postmaster (not in a single-user backend), which has installed
	 * its signal handlers by now (PostmasterMain does so before it loads
	 * libraries): see shutdown requests before it handles them.  Our
	 * handler runs with the same mask and flags as the postmaster's, so it
	 * runs where the postmaster's would: on 15 never while shared memory
	 * is being recreated, on 16+ at any time (sf_gate_shmem_init makes
	 * that safe).  It takes siginfo, and passes it on if the postmaster's
	 * handler wants it (19+ install theirs with SA_SIGINFO).
	 */
	if (IsPostmasterEnvironment && !IsUnderPostmaster)
	{
		struct sigaction act;

		sigaction(SIGINT, NULL, &prev_sigint);
		sigaction(SIGTERM, NULL, &prev_sigterm);
		if (prev_sigint.sa_handler == SIG_DFL || prev_sigint.sa_handler == SIG_IGN ||
			prev_sigterm.sa_handler == SIG_DFL || prev_sigterm.sa_handler == SIG_IGN)
			elog(ERROR, "unexpected postmaster signal handlers");

		act = prev_sigint;
		act.sa_flags |= SA_SIGINFO;
		act.sa_sigaction = sf_gate_shutdown_handler;
		sigaction(SIGINT, &act, NULL);
		act = prev_sigterm;
		act.sa_flags |= SA_SIGINFO;
		act.sa_sigaction = sf_gate_shutdown_handler;
		sigaction(SIGTERM, &act, NULL);
	}
}

/*
 * The postmaster's handler of a fast (SIGINT) or smart (SIGTERM) shutdown
 * request: record that a shutdown was requested, for
 * sf_gate_backends_stopping(), and for a fast one, which stops the
 * backends at once, that they are stopping; then let the postmaster's own
 * handler do the rest.
 */
static void
sf_gate_shutdown_handler(int signo, siginfo_t *info, void *context)
{
	struct sigaction *prev = signo == SIGINT ? &prev_sigint : &prev_sigterm;
	GateShared *shared = gate_shared;

	/* not in a child forked before it installed handlers of its own */
	if (shared != NULL && getpid() == PostmasterPid)
	{
		shared->shutdown_requested = true;
		if (signo == SIGINT)
			shared->stopping = true;
	}
	if (prev->sa_flags & SA_SIGINFO)
		prev->sa_sigaction(signo, info, context);
	else
		prev->sa_handler(signo);
}

/*
 * From the SIGTERM handlers of the launcher and the worker (worker.c): if
 * a shutdown was requested, this SIGTERM is the postmaster stopping the
 * backends, and gated walsenders, which nothing else tells, must not hold
 * the shutdown up.  Async-signal-safe.
 */
void
sf_gate_backends_stopping(void)
{
	if (gate_shared != NULL && gate_shared->shutdown_requested)
		gate_shared->stopping = true;
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
	if (list_length(names) == 1 && strcmp(linitial(names), "*") == 0)
	{
		parsed = sf_guc_malloc(offsetof(StandbySlots, names));
		if (parsed == NULL)
			return false;
		parsed->all_marked = true;
		parsed->n = 0;
		*extra = parsed;
		return true;
	}
	foreach(lc, names)
	{
		const char *name = lfirst(lc);

		if (strcmp(name, "*") == 0)
		{
			GUC_check_errdetail("\"*\" stands for every marked physical slot a standby streams from, and must be alone.");
			return false;
		}
		if (strlen(name) >= NAMEDATALEN ||
			strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
		{
			GUC_check_errdetail("\"%s\" is not a valid replication slot name.", name);
			return false;
		}
	}

	parsed = sf_guc_malloc(offsetof(StandbySlots, names) +
						   sizeof(NameData) * list_length(names));
	if (parsed == NULL)
		return false;
	parsed->all_marked = false;
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
 * A quorum of 0 would wait for nobody: say how to turn the gate off.
 */
static bool
sf_check_min_confirmed(int *newval, void **extra, GucSource source)
{
	if (*newval != 0)
		return true;
	GUC_check_errdetail("Use -1 to wait for every slot, or empty \"%s\" to turn the wait off.",
						"slot_failover.standby_slot_names");
	return false;
}

/*
 * A new quorum: what was known to have passed may not have.
 */
static void
sf_assign_min_confirmed(int newval, void *extra)
{
	gate_passed_upto = InvalidXLogRecPtr;
}

/*
 * Does slot_failover.standby_slot_names ask for a gate?
 */
static inline bool
sf_gate_on(void)
{
	return standby_slots != NULL &&
		(standby_slots->all_marked || standby_slots->n > 0);
}

/*
 * How many entries sf_gate_standbys_flushed() fills in: one per listed
 * slot, or with '*' one per slot index.
 */
static int
sf_gate_entries(void)
{
	return standby_slots->all_marked ? max_replication_slots : standby_slots->n;
}

/*
 * After authentication: give a walsender our output methods.  Those of a
 * logical stream hold its messages back; those of a physical one wake the
 * gated walsenders when its standby confirms.
 */
static void
sf_gate_attach(Port *port, int status)
{
	if (prev_client_auth_hook)
		prev_client_auth_hook(port, status);

	if (am_walsender && sf_prev_comm_methods == NULL)
	{
		sf_prev_comm_methods = PqCommMethods;
		sf_gate_comm_methods = *PqCommMethods;
		sf_gate_comm_methods.putmessage = sf_gate_putmessage;
		sf_gate_comm_methods.putmessage_noblock = sf_gate_putmessage_noblock;
		sf_gate_comm_methods.flush_if_writable = sf_gate_flush_if_writable;
		PqCommMethods = &sf_gate_comm_methods;
	}
}

/*
 * The walsender's flush_if_writable, which WalSndLoop calls on every turn,
 * right after it has read the client's replies.  In a physical walsender
 * of a listed slot whose standby has just confirmed a new flush position
 * (walsender.c's PhysicalConfirmReceivedLocation moved the slot's
 * restart_lsn), wake the gated walsenders, which PostgreSQL 15 itself
 * never does.
 */
static int
sf_gate_flush_if_writable(void)
{
	if (gate_shared != NULL && sf_gate_on() &&
		MyReplicationSlot != NULL && SlotIsPhysical(MyReplicationSlot))
	{
		XLogRecPtr	restart_lsn;

		SpinLockAcquire(&MyReplicationSlot->mutex);
		restart_lsn = MyReplicationSlot->data.restart_lsn;
		SpinLockRelease(&MyReplicationSlot->mutex);
		if (restart_lsn > gate_broadcast_at &&
			sf_gate_standby_listed(MyReplicationSlot))
			sf_gate_wake();
		gate_broadcast_at = Max(gate_broadcast_at, restart_lsn);
	}
	return sf_prev_comm_methods->flush_if_writable();
}

/*
 * Is this walsender's physical slot one that slot_failover.standby_slot_names
 * names: listed, or with '*' marked (it streams, since we hold it)?
 */
static bool
sf_gate_standby_listed(ReplicationSlot *slot)
{
	const char *name = NameStr(slot->data.name);
	bool		marked;

	if (!standby_slots->all_marked)
	{
		for (int i = 0; i < standby_slots->n; i++)
			if (strcmp(NameStr(standby_slots->names[i]), name) == 0)
				return true;
		return false;
	}
	LWLockAcquire(gate_shared->lock, LW_SHARED);
	marked = namestrcmp(&gate_shared->slots[ReplicationSlotIndex(slot)].row_slot,
						name) == 0;
	LWLockRelease(gate_shared->lock);
	return marked;
}

/*
 * A listed standby has moved: wake the walsenders that wait for it
 * (sf_gate_wait sleeps on standby_moved), and those idle after lowering a
 * keepalive, so that their next keepalive tells their clients more; as
 * PostgreSQL 17's walsenders, woken by wal_confirm_rcv_cv, send one before
 * they sleep again (WalSndWaitForWal).
 */
static void
sf_gate_wake(void)
{
	ConditionVariableBroadcast(&gate_shared->standby_moved);
	for (int i = 0; i < max_replication_slots; i++)
	{
		int			procno = gate_shared->slots[i].lowered_procno;

		if (procno >= 0)
			SetLatch(&GetPGProcByNumber(procno)->procLatch);
	}
}

/*
 * The walsender's putmessage: a CopyBothResponse starts a new stream, and
 * what the last one sent says nothing about the new one's position; the
 * client has what its slot confirmed.
 */
static int
sf_gate_putmessage(char msgtype, const char *s, size_t len)
{
	if (msgtype == 'W')
	{
		gate_last_sent = InvalidXLogRecPtr;
		gate_nends = 0;
		gate_two_phase_seen = InvalidXLogRecPtr;
		gate_lowered_at = 0;
		gate_lowered = false;
		if (MyReplicationSlot != NULL && SlotIsLogical(MyReplicationSlot))
		{
			SpinLockAcquire(&MyReplicationSlot->mutex);
			gate_last_sent = MyReplicationSlot->data.confirmed_flush;
			SpinLockRelease(&MyReplicationSlot->mutex);
		}
	}
	return sf_prev_comm_methods->putmessage(msgtype, s, len);
}

/*
 * The walsender's putmessage_noblock: hold back XLogData of a marked slot
 * until the listed standbys have flushed the WAL it describes, and lower
 * keepalives to what they have flushed.  This runs for every message, so a
 * message the standbys are known to have is let through before anything
 * costlier, such as whether the slot is marked.
 */
static void
sf_gate_putmessage_noblock(char msgtype, const char *s, size_t len)
{
	uint64		lsn;

	if (!am_db_walsender || msgtype != 'd' || len < 17 ||
		(s[0] != 'w' && s[0] != 'k') || !sf_gate_on() ||
		MyReplicationSlot == NULL || !SlotIsLogical(MyReplicationSlot))
	{
		sf_prev_comm_methods->putmessage_noblock(msgtype, s, len);
		return;
	}

	/* dataStart of XLogData (the same as its walEnd), walEnd of keepalive */
	memcpy(&lsn, s + 1, sizeof(lsn));
	lsn = pg_ntoh64(lsn);

	if (s[0] == 'w')
	{
		/*
		 * The header's position says nothing about what the message holds: a
		 * change row carries its own record's start, wal2json's format 1 a
		 * whole transaction under its first position, and a body may name
		 * later positions (pgoutput's BEGIN names its commit's).  A logical
		 * walsender decodes only flushed WAL, so everything this message can
		 * describe ends at or before the local flush position now: wait until
		 * the standbys have that, as PostgreSQL 17 decodes only what they
		 * flushed.
		 */
		XLogRecPtr	target = GetFlushRecPtr(NULL);

		/*
		 * Cheapest first: most messages are below what the standbys have,
		 * and of a slot whose two_phase, if enabled, the gate saw recorded.
		 * (The walsender enabled it itself, at START_REPLICATION.)
		 */
		if ((target > gate_passed_upto ||
			 (MyReplicationSlot->data.two_phase &&
			  MyReplicationSlot->data.two_phase_at != gate_two_phase_seen)) &&
			sf_gate_slot_marked())
			gate_passed_upto = sf_gate_wait(target);
		gate_last_sent = Max(gate_last_sent, lsn);
	}
	else if (len == SF_KEEPALIVE_LEN && lsn > gate_passed_upto &&
			 sf_gate_slot_marked())
	{
		sf_gate_keepalive_out(s, lsn);
		return;
	}
	else if (len == SF_KEEPALIVE_LEN)
	{
		/* it tells what the standbys have: nothing is left to tell later */
		gate_last_sent = Max(gate_last_sent, lsn);
		if (gate_lowered)
		{
			gate_shared->slots[ReplicationSlotIndex(MyReplicationSlot)].lowered_procno = -1;
			gate_lowered = false;
		}
	}
	sf_prev_comm_methods->putmessage_noblock(msgtype, s, len);
}

/*
 * Send a keepalive of a marked slot, whose position lsn may be beyond what
 * the standbys have flushed: then lower it (sf_gate_lower), and ask to be
 * woken when they move (sf_gate_wake), since the walsender sends its next
 * keepalive only when something wakes it.  A client that answers every
 * keepalive would otherwise play ping-pong with the walsender, which sends
 * one whenever the client has not confirmed all it read: a lowered
 * keepalive that tells nothing new and asks for no reply goes out at most
 * every SF_GATE_LOWERED_MS.  (The walsender answers a client's request for
 * a reply with such a keepalive; one that comes within that time of the
 * last gets none, and the client's next request is answered.)
 */
static void
sf_gate_keepalive_out(const char *s, XLogRecPtr lsn)
{
	XLogRecPtr	flushed = sf_gate_standbys_flushed(NULL);
	GateSlot   *gate = &gate_shared->slots[ReplicationSlotIndex(MyReplicationSlot)];
	XLogRecPtr	told_before = gate_last_sent;
	TimestampTz now;
	char		keepalive[SF_KEEPALIVE_LEN];
	uint64		told;

	if (flushed != InvalidXLogRecPtr)
		gate_passed_upto = flushed;
	if (lsn <= flushed)
	{
		gate_last_sent = Max(gate_last_sent, lsn);
		gate->lowered_procno = -1;
		gate_lowered = false;
		sf_prev_comm_methods->putmessage_noblock('d', s, SF_KEEPALIVE_LEN);
		return;
	}

	sf_gate_exit_if_shutdown(lsn, true);
	gate_last_sent = Max(gate_last_sent, sf_gate_lower(lsn, flushed));
	gate->lowered_procno = sf_my_procno();
	gate_lowered = true;

	now = GetCurrentTimestamp();
	if (gate_last_sent == told_before && s[17] == 0 &&
		!TimestampDifferenceExceeds(gate_lowered_at, now, SF_GATE_LOWERED_MS))
		return;
	gate_lowered_at = now;
	told = pg_hton64(Min(lsn, gate_last_sent));
	memcpy(keepalive, s, SF_KEEPALIVE_LEN);
	memcpy(keepalive + 1, &told, sizeof(told));
	sf_prev_comm_methods->putmessage_noblock('d', keepalive, SF_KEEPALIVE_LEN);
}

/*
 * The position a keepalive at lsn, beyond what the standbys have flushed,
 * may carry instead: the highest earlier keepalive's position they have,
 * and lsn is kept for later.  Not simply flushed: a standby's flush
 * position may fall inside a record, and a client that confirms a
 * position inside a commit record and resumes from it never gets that
 * transaction (decoding skips commits that start before the resume
 * position), on this primary or on a promoted standby.  Keepalives carry
 * record ends only (the walsender's sentPtr, or the end of a commit it
 * skipped), so earlier ones are safe to tell.  Returns InvalidXLogRecPtr
 * if none is.  The ring of earlier positions (gate_ends) keeps every
 * other one when full, so that those kept stay spread out.
 */
static XLogRecPtr
sf_gate_lower(XLogRecPtr lsn, XLogRecPtr flushed)
{
	XLogRecPtr	safe = InvalidXLogRecPtr;
	int			kept = 0;

	for (int i = 0; i < gate_nends; i++)
	{
		if (gate_ends[i] <= flushed)
			safe = gate_ends[i];
		else
			gate_ends[kept++] = gate_ends[i];
	}
	gate_nends = kept;

	if (gate_nends == 0 || lsn > gate_ends[gate_nends - 1])
	{
		/* full: keep every other one, the newest included, spread out */
		if (gate_nends == SF_GATE_ENDS)
		{
			kept = 0;
			for (int i = 1; i < SF_GATE_ENDS; i += 2)
				gate_ends[kept++] = gate_ends[i];
			gate_nends = kept;
		}
		gate_ends[gate_nends++] = lsn;
	}
	return safe;
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
 * How far the standbys of slot_failover.standby_slot_names have flushed, as
 * the quorum asks.  With standby_slots_min_confirmed -1, or at least as
 * many as there are: the least restart_lsn of them all, InvalidXLogRecPtr
 * if one is missing, logical or invalidated (nothing passes then).
 * Otherwise the k-th greatest of the usable ones, InvalidXLogRecPtr if
 * fewer are.  With '*' the members are the marked physical slots that a
 * walsender holds (none: nothing to wait for, the local flush position;
 * rows not published yet: nothing passes).  If seen is not NULL, also fill
 * in each entry (sf_gate_entries): whether it is a member, its name,
 * position, and what is wrong with it.  Allocates nothing, but for the
 * WARNING about missing slots: a waiting walsender calls it at every
 * wake-up.
 */
static XLogRecPtr
sf_gate_standbys_flushed(SfStandbySeen *seen)
{
	bool		all_marked = standby_slots->all_marked;
	int			quorum = sf_min_confirmed;
	XLogRecPtr	top[SF_GATE_MAX_QUORUM];	/* greatest first */
	int			ntop = 0;
	XLogRecPtr	least = InvalidXLogRecPtr;
	bool		all_usable = true;
	bool		missing = false;
	bool		rows_known = true;
	int			members = 0;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	if (all_marked)
	{
		LWLockAcquire(gate_shared->lock, LW_SHARED);
		rows_known = gate_shared->rows_known;
	}
	for (int i = 0; i < sf_gate_entries(); i++)
	{
		ReplicationSlot *slot;
		SfStandbyTrouble trouble = SF_STANDBY_FINE;
		XLogRecPtr	flushed = InvalidXLogRecPtr;
		bool		member = true;
		int			j;

		if (all_marked)
		{
			slot = &ReplicationSlotCtl->replication_slots[i];
			member = slot->in_use && SlotIsPhysical(slot) &&
				namestrcmp(&gate_shared->slots[i].row_slot,
						   NameStr(slot->data.name)) == 0;
		}
		else
			slot = SearchNamedReplicationSlot(NameStr(standby_slots->names[i]), false);

		if (member && slot == NULL)
			trouble = SF_STANDBY_MISSING;
		else if (member && SlotIsLogical(slot))
			trouble = SF_STANDBY_LOGICAL;
		else if (member)
		{
			SpinLockAcquire(&slot->mutex);
			flushed = slot->data.restart_lsn;
			if (sf_slot_invalidated(slot))
				trouble = SF_STANDBY_INVALIDATED;
			else if (sf_slot_active_pid(slot) == 0)
				trouble = SF_STANDBY_INACTIVE;
			SpinLockRelease(&slot->mutex);
			/* '*' waits only for standbys that stream */
			member = !all_marked || trouble == SF_STANDBY_FINE;
		}

		if (seen != NULL)
		{
			seen[i].member = member;
			seen[i].name = all_marked ? slot->data.name : standby_slots->names[i];
			seen[i].trouble = trouble;
			seen[i].flushed = flushed;
		}
		if (!member)
			continue;
		members++;
		missing |= trouble == SF_STANDBY_MISSING;
		if (flushed == InvalidXLogRecPtr)
		{
			all_usable = false;
			continue;
		}
		if (least == InvalidXLogRecPtr || flushed < least)
			least = flushed;

		/* keep the quorum's greatest positions, greatest first */
		if (quorum < 0)
			continue;
		if (ntop < quorum)
			ntop++;
		else if (flushed <= top[ntop - 1])
			continue;
		for (j = ntop - 1; j > 0 && top[j - 1] < flushed; j--)
			top[j] = top[j - 1];
		top[j] = flushed;
	}
	if (all_marked)
		LWLockRelease(gate_shared->lock);
	LWLockRelease(ReplicationSlotControlLock);

	if (missing)
		sf_gate_warn_missing();
	if (!rows_known)
		return InvalidXLogRecPtr;
	if (members == 0)
		return GetFlushRecPtr(NULL);
	if (quorum < 0 || quorum >= members)
		return all_usable ? least : InvalidXLogRecPtr;
	return ntop == quorum ? top[quorum - 1] : InvalidXLogRecPtr;
}

/*
 * Warn about the listed slots that do not exist, at most once every
 * SF_GATE_MISSING_WARN_MS in this process: also when the quorum does not
 * need them, so that a slot left in the list after a failover is never
 * forgotten silently.
 */
static void
sf_gate_warn_missing(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (!TimestampDifferenceExceeds(gate_missing_warned_at, now,
									SF_GATE_MISSING_WARN_MS))
		return;
	gate_missing_warned_at = now;

	for (int i = 0; i < standby_slots->n; i++)
	{
		const char *name = NameStr(standby_slots->names[i]);
		bool		exists;

		LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
		exists = SearchNamedReplicationSlot(name, false) != NULL;
		LWLockRelease(ReplicationSlotControlLock);
		if (!exists)
			ereport(WARNING,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("replication slot \"%s\" named in \"%s\" does not exist",
							name, "slot_failover.standby_slot_names"),
					 errdetail("It counts as a standby that has flushed nothing: logical clients of marked slots wait for it unless \"%s\" is met without it.",
							   "slot_failover.standby_slots_min_confirmed"),
					 errhint("Create the physical replication slot \"%s\" for the standby, or remove it from \"%s\" (\"*\" follows the standbys that stream from this node).",
							 name, "slot_failover.standby_slot_names")));
	}
}

/*
 * The listed slots that do not exist, palloc'd; returns how many.  For
 * gate_missing(), which the status view shows.
 */
int
sf_gate_missing(NameData **names)
{
	int			n = 0;

	if (!sf_gate_on())
		return 0;
	*names = palloc(sizeof(NameData) * Max(standby_slots->n, 1));
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < standby_slots->n; i++)
		if (SearchNamedReplicationSlot(NameStr(standby_slots->names[i]), false) == NULL)
			(*names)[n++] = standby_slots->names[i];
	LWLockRelease(ReplicationSlotControlLock);
	return n;
}

/*
 * Wait until every listed standby has flushed lsn, and the slot's row as
 * it records the slot's two_phase (sf_gate_row_ready), keeping the
 * client's connection alive; returns how far the standbys all have.  A
 * list emptied by a reload, or the slot unmarked, also ends the wait,
 * returning InvalidXLogRecPtr.
 */
static XLogRecPtr
sf_gate_wait(XLogRecPtr lsn)
{
	TimestampTz since = GetCurrentTimestamp();
	TimestampTz last_keepalive = since;
	const StandbySlots *seen_for = NULL;
	SfStandbySeen *seen = NULL;
	int			published = -2;
	XLogRecPtr	flushed = InvalidXLogRecPtr;

	/* from here on, a broadcast by a physical walsender wakes us */
	ConditionVariablePrepareToSleep(&gate_shared->standby_moved);
	for (;;)
	{
		TimestampTz now;
		XLogRecPtr	row_upto;
		bool		row_ready;
		XLogRecPtr	need;
		int			blocking;

		CHECK_FOR_INTERRUPTS();
		sf_gate_reload_if_asked();
		if (!sf_gate_on() || !sf_gate_slot_marked())
		{
			flushed = InvalidXLogRecPtr;
			break;
		}
		row_ready = sf_gate_row_ready(MyReplicationSlot, &row_upto);
		need = Max(lsn, row_upto);
		sf_gate_exit_if_shutdown(need, row_ready);

		/* a reload may have given us another list */
		if (seen_for != standby_slots)
		{
			if (seen != NULL)
				pfree(seen);
			seen = palloc0(sizeof(SfStandbySeen) * sf_gate_entries());
			seen_for = standby_slots;
			published = -2;
		}

		flushed = sf_gate_standbys_flushed(seen);
		if (row_ready && flushed >= need)
		{
			if (MyReplicationSlot->data.two_phase)
				gate_two_phase_seen = MyReplicationSlot->data.two_phase_at;
			break;
		}

		/* none blocking: the row is to record two_phase first */
		blocking = sf_gate_blocking(seen, need);
		if (blocking != published)
		{
			sf_gate_publish(true, blocking >= 0 ? NameStr(seen[blocking].name) : "",
							need, since);
			published = blocking;
		}

		now = GetCurrentTimestamp();
		if (TimestampDifferenceExceeds(last_keepalive, now, SF_GATE_KEEPALIVE_MS))
		{
			sf_gate_keepalive();
			last_keepalive = now;
		}

		(void) ConditionVariableTimedSleep(&gate_shared->standby_moved,
										   SF_GATE_NAP_MS, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();

	if (seen != NULL)
		pfree(seen);
	if (published != -2)
		sf_gate_publish(false, NULL, InvalidXLogRecPtr, 0);
	return flushed;
}

/*
 * Reload the configuration if asked, as walsender.c does in its loops: a
 * waiting walsender consumes ConfigReloadPending, so it also does what
 * walsender.c does after a reload.
 */
static void
sf_gate_reload_if_asked(void)
{
	if (!ConfigReloadPending)
		return;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	SyncRepInitConfig();
}

/*
 * The first slot waited for that has not flushed lsn, or -1; warns once
 * about each cause that keeps such a slot from reaching it (a missing one
 * has its own WARNING, sf_gate_warn_missing).
 */
static int
sf_gate_blocking(SfStandbySeen *seen, XLogRecPtr lsn)
{
	int			blocking = -1;

	for (int i = 0; i < sf_gate_entries(); i++)
	{
		if (!seen[i].member || seen[i].flushed >= lsn)
			continue;
		if (blocking < 0)
			blocking = i;
		if (seen[i].trouble != SF_STANDBY_FINE &&
			seen[i].trouble != SF_STANDBY_MISSING &&
			seen[i].trouble != seen[i].warned)
		{
			sf_gate_warn(NameStr(seen[i].name), seen[i].trouble, lsn);
			seen[i].warned = seen[i].trouble;
		}
	}
	return blocking;
}

/*
 * Say why the listed slot keeps this walsender waiting for lsn, in the
 * words of PostgreSQL 17's StandbySlotsHaveCaughtup (slot.c).
 */
static void
sf_gate_warn(const char *name, SfStandbyTrouble trouble, XLogRecPtr lsn)
{
	const char *guc = "slot_failover.standby_slot_names";

	switch (trouble)
	{
		case SF_STANDBY_LOGICAL:
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("replication slot \"%s\" named in \"%s\" is a logical slot",
							name, guc),
					 errdetail("Logical replication slot \"%s\" waits until \"%s\" is corrected.",
							   NameStr(MyReplicationSlot->data.name), guc),
					 errhint("Name only the physical replication slots of standbys in \"%s\".",
							 guc)));
			break;
		case SF_STANDBY_INVALIDATED:
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("physical replication slot \"%s\" named in \"%s\" has been invalidated",
							name, guc),
					 errdetail("Logical replication slot \"%s\" waits until the standby of that slot flushes WAL up to %X/%X.",
							   NameStr(MyReplicationSlot->data.name),
							   LSN_FORMAT_ARGS(lsn)),
					 errhint("Drop and re-create the replication slot \"%s\" and rebuild its standby, or remove it from \"%s\".",
							 name, guc)));
			break;
		case SF_STANDBY_INACTIVE:
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("replication slot \"%s\" named in \"%s\" has no standby streaming from it",
							name, guc),
					 errdetail("Logical replication slot \"%s\" waits until the standby of that slot flushes WAL up to %X/%X.",
							   NameStr(MyReplicationSlot->data.name),
							   LSN_FORMAT_ARGS(lsn)),
					 errhint("Start the standby that streams from replication slot \"%s\", or remove it from \"%s\".",
							 name, guc)));
			break;
		case SF_STANDBY_MISSING:	/* sf_gate_warn_missing */
		case SF_STANDBY_FINE:
			break;
	}
}

/*
 * Once the backends are being stopped, a gated walsender exits instead of
 * holding back lsn: the shutdown waits for it, and nothing else would tell
 * it to stop.  It first gives the standbys a moment (SF_GATE_STOP_WAIT_MS)
 * to reach lsn, as PostgreSQL 17 waits for them at got_STOPPING, so that a
 * standby slightly behind does not cost an ordinary shutdown a FATAL; it
 * returns if they do.  If the slot's row does not record its two_phase
 * yet (row_ready false), nothing will: the worker is stopping too.  What
 * it does not send, its client gets again from the slot.
 */
static void
sf_gate_exit_if_shutdown(XLogRecPtr lsn, bool row_ready)
{
	TimestampTz start;

	if (gate_shared == NULL || !gate_shared->stopping)
		return;

	start = GetCurrentTimestamp();
	while (!TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
									   SF_GATE_STOP_WAIT_MS))
	{
		XLogRecPtr	flushed;

		CHECK_FOR_INTERRUPTS();
		if (!sf_gate_on())
			return;
		flushed = sf_gate_standbys_flushed(NULL);
		if (row_ready && flushed != InvalidXLogRecPtr && flushed >= lsn)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 SF_GATE_STOP_NAP_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}

	ereport(FATAL,
			(errcode(ERRCODE_ADMIN_SHUTDOWN),
			 errmsg("terminating walsender of replication slot \"%s\" because the server is shutting down",
					NameStr(MyReplicationSlot->data.name)),
			 row_ready ?
			 errdetail("The standbys named in \"%s\" have not flushed WAL up to %X/%X.",
					   "slot_failover.standby_slot_names",
					   LSN_FORMAT_ARGS(lsn)) :
			 errdetail("The row of the slot in slot_failover.slots does not record its two_phase yet.")));
}

/*
 * Send the client a keepalive that reports only what it has received.
 */
static void
sf_gate_keepalive(void)
{
	char		keepalive[SF_KEEPALIVE_LEN];
	uint64		n;

	keepalive[0] = 'k';
	n = pg_hton64(gate_last_sent);
	memcpy(keepalive + 1, &n, sizeof(n));
	n = pg_hton64((uint64) GetCurrentTimestamp());
	memcpy(keepalive + 9, &n, sizeof(n));
	keepalive[17] = 0;
	sf_prev_comm_methods->putmessage_noblock('d', keepalive, SF_KEEPALIVE_LEN);
	(void) sf_prev_comm_methods->flush_if_writable();
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
	gate = &gate_shared->slots[ReplicationSlotIndex(MyReplicationSlot)].wait;

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
 * May the slot's messages go out, as far as its row is concerned?  A
 * slot's two_phase is enabled after marking (a subscription with two_phase
 * = on enables it at the START_REPLICATION that follows its initial sync),
 * and a copy that lacks it would, after failover, send a transaction
 * PREPAREd before again as a whole at its COMMIT PREPARED: so while the
 * row does not record the slot's two_phase, nothing may go out (returns
 * false).  Otherwise returns true, with *upto the position the standbys
 * need to have the row as it is (InvalidXLogRecPtr if the slot has no
 * two_phase).  A slot without a row, as the worker last said
 * (sf_gate_set_rows), has no copy to protect: nothing holds it.
 */
static bool
sf_gate_row_ready(ReplicationSlot *slot, XLogRecPtr *upto)
{
	GateSlot   *gate = &gate_shared->slots[ReplicationSlotIndex(slot)];
	XLogRecPtr	two_phase_at;
	bool		ready = true;

	*upto = InvalidXLogRecPtr;
	SpinLockAcquire(&slot->mutex);
	two_phase_at = slot->data.two_phase ? slot->data.two_phase_at :
		InvalidXLogRecPtr;
	SpinLockRelease(&slot->mutex);
	if (two_phase_at == InvalidXLogRecPtr)
		return true;

	LWLockAcquire(gate_shared->lock, LW_SHARED);
	if (namestrcmp(&gate->row_slot, NameStr(slot->data.name)) == 0)
	{
		ready = gate->row_two_phase_at == two_phase_at;
		*upto = gate->row_written_upto;
	}
	LWLockRelease(gate_shared->lock);
	return ready;
}

/*
 * From the worker on a primary, once it has read or written the table:
 * these n slots have rows, which record two_phase from these positions on
 * (InvalidXLogRecPtr: no two_phase).  Replaces what was known before.  A
 * row that says something new says it in WAL before the insert position
 * now; one that says what it said before keeps its position.
 */
void
sf_gate_set_rows(const NameData *names, const XLogRecPtr *two_phase_at, int n)
{
	int		   *index = palloc(sizeof(int) * Max(n, 1));
	bool	   *has_row = palloc0(sizeof(bool) * max_replication_slots);
	XLogRecPtr	now = GetXLogInsertRecPtr();

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int k = 0; k < n; k++)
	{
		ReplicationSlot *slot = SearchNamedReplicationSlot(NameStr(names[k]),
														   false);

		index[k] = slot != NULL ? ReplicationSlotIndex(slot) : -1;
	}
	LWLockRelease(ReplicationSlotControlLock);

	LWLockAcquire(gate_shared->lock, LW_EXCLUSIVE);
	for (int k = 0; k < n; k++)
	{
		GateSlot   *gate;

		if (index[k] < 0)
			continue;
		gate = &gate_shared->slots[index[k]];
		has_row[index[k]] = true;
		if (namestrcmp(&gate->row_slot, NameStr(names[k])) != 0 ||
			gate->row_two_phase_at != two_phase_at[k])
		{
			gate->row_slot = names[k];
			gate->row_two_phase_at = two_phase_at[k];
			gate->row_written_upto = now;
		}
	}
	for (int i = 0; i < max_replication_slots; i++)
		if (!has_row[i])
			NameStr(gate_shared->slots[i].row_slot)[0] = '\0';
	gate_shared->rows_known = true;
	LWLockRelease(gate_shared->lock);
	pfree(index);
	pfree(has_row);
}

/*
 * The position up to which a consumer of the slot may read without running
 * ahead of the listed standbys, for slot_failover.gate_position(): the
 * minimum of their flush positions (InvalidXLogRecPtr while one is
 * unusable, or while they lack the slot's row as it records its two_phase,
 * sf_gate_row_ready),
 * or InvalidXLogRecPtr with *gated false if the slot is not a marked
 * logical slot or no standby is listed.
 */
XLogRecPtr
sf_gate_position(const char *slot_name, bool *gated)
{
	ReplicationSlot *slot;
	bool		logical;
	bool		row_ready;
	XLogRecPtr	row_upto = InvalidXLogRecPtr;
	XLogRecPtr	flushed;

	*gated = false;
	if (!sf_gate_on())
		return InvalidXLogRecPtr;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(slot_name, false);
	logical = slot != NULL && SlotIsLogical(slot);
	row_ready = !logical || sf_gate_row_ready(slot, &row_upto);
	LWLockRelease(ReplicationSlotControlLock);

	/* the name is a slot's, and so fit for the marker's path */
	if (!logical || !sf_marker_exists(slot_name))
		return InvalidXLogRecPtr;
	*gated = true;
	flushed = sf_gate_standbys_flushed(NULL);
	if (!row_ready || flushed < row_upto)
		return InvalidXLogRecPtr;
	return flushed;
}

/*
 * Shared memory of the gate: one entry per replication slot.
 */
static Size
sf_gate_shmem_size(void)
{
	return add_size(offsetof(GateShared, slots),
					mul_size(sizeof(GateSlot),
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
		ConditionVariableInit(&gate_shared->standby_moved);
		for (int i = 0; i < max_replication_slots; i++)
			gate_shared->slots[i].lowered_procno = -1;
	}

	/*
	 * The postmaster's shutdown handler writes through gate_shared, and on
	 * 16+ it runs at any time, also while a crash restart has unmapped the
	 * old segment and not yet mapped the new one: forget the segment
	 * before it goes (on_shmem_exit callbacks run in reverse order, so
	 * before the detach registered when it was created).
	 */
	if (!IsUnderPostmaster)
		on_shmem_exit(sf_gate_shmem_forget, 0);
}

/*
 * See sf_gate_shmem_init.
 */
static void
sf_gate_shmem_forget(int code, Datum arg)
{
	gate_shared = NULL;
}

/*
 * The walsenders of marked slots that wait for a standby now, palloc'd;
 * returns how many.  For gate_status().  An entry counts only while its
 * walsender still holds the slot (entry i is slot i): one that died, or
 * left the wait by an error and released the slot, left it behind.
 */
int
sf_gate_read_waits(SlotFailoverGateStatus **waits)
{
	int			kept = 0;

	*waits = palloc(sizeof(SlotFailoverGateStatus) * max_replication_slots);
	LWLockAcquire(gate_shared->lock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
		(*waits)[i] = gate_shared->slots[i].wait;
	LWLockRelease(gate_shared->lock);

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
		bool		held = false;

		if ((*waits)[i].waiting && slot->in_use)
		{
			SpinLockAcquire(&slot->mutex);
			held = sf_slot_active_pid(slot) == (*waits)[i].pid;
			SpinLockRelease(&slot->mutex);
		}
		if (held)
			(*waits)[kept++] = (*waits)[i];
	}
	LWLockRelease(ReplicationSlotControlLock);
	return kept;
}
