/*-------------------------------------------------------------------------
 *
 * primary.c
 *		The primary's side: the worker's cycle that keeps
 *		slot_failover.slots equal to the marked slots.
 *
 * A row of slot_failover.slots is an order to every standby to keep a copy
 * of one replication slot, pinning WAL and catalog rows for it.  The row
 * names one incarnation of the slot: mark() draws a random identity and
 * records it both in the row and in the slot's marker file (marker.c).  A
 * slot dropped and created again under the same name has no marker: the
 * worker then deletes the row, and the new slot is not marked until
 * somebody marks it.
 *
 * Marks are transactional.  mark() and unmark() (functions.c) first lock
 * the row until their transaction ends, then add an entry for their
 * (sub)transaction to the marker, which reads as the committed rows say
 * whatever the transaction does (marker.c).  The worker settles markers
 * when it reloads the table, and logs those it settles at its start: they
 * were left by transactions that ended while it was not running, for
 * instance in a crash.
 *
 * The worker keeps in its own memory what each row says (marks, a hash
 * table keyed by slot name).  It reloads it from the table when mark() or
 * unmark() ended a transaction (the generation worker.c passes in moved),
 * after an error, when the node changes role, and for sync() when the
 * extension was created again (DROP and CREATE EXTENSION move no
 * generation; otherwise only a write notices it).  A row whose system_identifier is
 * not this cluster's came from elsewhere (a subscription FOR ALL TABLES, a
 * dump): it is ignored, with one WARNING.  A cycle reads the slot array
 * under ReplicationSlotControlLock (shared, no I/O while held), checks that
 * each marked slot still has its marker file, and compares.  Only when a
 * row must change does it start a transaction, and it writes all changes
 * of the cycle with one UPDATE and one DELETE (table.c).  It first locks
 * the rows it changes, skipping those that a user's transaction holds (an
 * open mark() or unmark()): such a row waits for the next cycle, and the
 * status board (status.c) says why, so that one open transaction never
 * stalls the others' rows.
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
 * Automatic marks.  slot_failover.auto_mark is a list of rules
 * ("type:plugin:name", a leading "!" excludes; parsed and checked by its
 * GUC check hook, so that bad text is refused at ALTER SYSTEM and reload).
 * After its own writes, a cycle looks, under ReplicationSlotControlLock,
 * for persistent slots without a row that the rules match, and marks each
 * in one transaction, as mark() does (sf_primary_mark(), which mark()
 * itself calls): a slot created later, or created again under the same
 * name (its old row goes since its marker went with the old slot), is
 * marked within a naptime.  A slot whose marker records an explicit
 * unmark() (marker.c) is left alone until it is dropped.  An idle cycle
 * reads the slot array and, for each matching slot that was unmarked, its
 * marker: it writes nothing.
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

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "slot_failover.h"

/* What the row of one marked slot says, in the worker's memory. */
typedef struct MarkedSlot
{
	SlotRow		written;		/* as last read or written; name is the key */
	bool		marker_matches; /* marker named this identity at load */
	SlotState  *now;			/* during a cycle: the slot, or NULL */
	bool		locked;			/* during a write: we hold the row */
	TimestampTz locked_out_since;	/* a user's transaction holds the row */
} MarkedSlot;

/* One rule of slot_failover.auto_mark. */
typedef struct AutoMarkRule
{
	bool		exclude;		/* "!": a slot it matches is not marked */
	char		type;			/* 'l'ogical, 'p'hysical or '*' */
	NameData	plugin;			/* an output plugin, or "*" */
	NameData	pattern;		/* a slot name; '*' matches any characters */
} AutoMarkRule;

/* The parsed value of slot_failover.auto_mark (GUC extra). */
typedef struct AutoMarkRules
{
	int			n;
	AutoMarkRule rules[FLEXIBLE_ARRAY_MEMBER];
} AutoMarkRules;

/* why a row waits on a primary, for the status view */
#define SF_LOCKED_OUT_REASON \
	"the row is locked by another transaction (for instance an open mark() or unmark()); it is written once that transaction ends"

static bool sf_check_auto_mark(char **newval, void **extra, GucSource source);
static bool sf_parse_rule(char *text, AutoMarkRule *rule);
static void sf_assign_auto_mark(const char *newval, void *extra);
static bool sf_auto_mark_matches(const SlotState *state, const char *name);
static bool sf_name_matches(const char *pattern, const char *name);
static int	sf_auto_mark(void);
static int	sf_sync_rows(bool exact, uint64 generation);
static void sf_settle_markers(void);
static void sf_load_marks(uint64 generation);
static bool sf_table_recreated(void);
static bool sf_row_is_ours(const char *name, uint64 system_identifier);
static void sf_observe_activity(void);
static void sf_observe_own_write(uint64 completions_before, bool had_xid);
static bool sf_differs(MarkedSlot *row, SlotState *now);
static bool sf_worth_writing(MarkedSlot *row, SlotState *now);
static bool sf_xmin_retreated(TransactionId recorded, TransactionId now);
static int	sf_write_changes(MarkedSlot **updates, SlotState *states,
							 int nupdates, MarkedSlot **deletes, int ndeletes);
static void sf_next_row(SlotRow *next, bool *snapshot_moved,
						const MarkedSlot *row, const SlotState *s);
static void sf_lock_rows(MarkedSlot **rows, int nrows);
static void sf_publish_locked_out(void);
static void sf_publish_rows(void);

/* the worker's copy of the table; NULL until loaded */
static HTAB *marks = NULL;
static uint64 marks_generation = 0;
static Oid	marks_relid = InvalidOid;	/* the table they were read from */
static bool said_not_installed = false;

/* markers are settled at each load; those of the first load are logged */
static bool settled_since_start = false;

/* slots whose foreign rows we warned about, in TopMemoryContext */
static List *warned_foreign = NIL;

/* GUC variable, and its parsed form (NULL: off) */
static char *sf_auto_mark_text = NULL;
static AutoMarkRules *auto_mark_rules = NULL;

/* see "Our own writes" in the file header */
static uint64 seen_completions = 0;
static XLogRecPtr frontier = InvalidXLogRecPtr;
static bool foreign_since_write = true;

/*
 * Define slot_failover.auto_mark.  Called from _PG_init in every process,
 * so that ALTER SYSTEM checks the value wherever it runs.
 */
void
sf_primary_init(void)
{
	DefineCustomStringVariable("slot_failover.auto_mark",
							   "Rules for the persistent replication slots the worker marks for failover by itself.",
							   "Comma-separated rules type:plugin:name, where type is logical, physical or *, "
							   "plugin an output plugin or *, and name a slot name in which * matches any "
							   "characters; omitted fields match anything. A rule starting with ! excludes "
							   "the slots it matches. Empty turns this off.",
							   &sf_auto_mark_text,
							   "",
							   PGC_SIGHUP,
							   0,
							   sf_check_auto_mark,
							   sf_assign_auto_mark,
							   NULL);
}

/*
 * Parse and check slot_failover.auto_mark; refuse text that is not a list
 * of rules, naming the rule and what is wrong with it.
 */
static bool
sf_check_auto_mark(char **newval, void **extra, GucSource source)
{
	char	   *text = pstrdup(*newval);
	char	   *next = text;
	AutoMarkRules *parsed;
	int			n = 1;

	for (char *c = text; *c; c++)
		n += *c == ',';
	parsed = sf_guc_malloc(offsetof(AutoMarkRules, rules) + sizeof(AutoMarkRule) * n);
	if (parsed == NULL)
		return false;
	parsed->n = 0;

	if (strspn(text, " \t") == strlen(text))
		next = NULL;			/* empty: off */
	while (next != NULL)
	{
		char	   *rule = next;

		next = strchr(rule, ',');
		if (next != NULL)
			*next++ = '\0';
		if (!sf_parse_rule(rule, &parsed->rules[parsed->n]))
		{
			sf_guc_free(parsed);
			return false;
		}
		parsed->n++;
	}
	*extra = parsed;
	return true;
}

/*
 * Parse one rule of slot_failover.auto_mark, "[!]type[:plugin[:name]]"
 * with blanks around it; false, with the reason in the GUC's errdetail,
 * if it is not one.
 */
static bool
sf_parse_rule(char *text, AutoMarkRule *rule)
{
	char	   *field[3] = {"*", "*", "*"};
	int			nfields = 0;
	char	   *end;
	const char *shown;

	while (*text == ' ' || *text == '\t')
		text++;
	end = text + strlen(text);
	while (end > text && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	shown = pstrdup(text);

	memset(rule, 0, sizeof(AutoMarkRule));
	rule->exclude = *text == '!';
	if (rule->exclude)
		text++;
	for (char *f = text; f != NULL && nfields <= 3; nfields++)
	{
		char	   *colon = strchr(f, ':');

		if (colon != NULL)
			*colon++ = '\0';
		if (nfields < 3)
			field[nfields] = f;
		f = colon;
	}
	if (*text == '\0')
	{
		GUC_check_errdetail("A rule is empty; rules are separated by commas.");
		return false;
	}
	if (nfields > 3)
	{
		GUC_check_errdetail("Rule \"%s\" has more than three fields (type:plugin:name).",
							shown);
		return false;
	}
	for (int i = 0; i < 3; i++)
		if (field[i][0] == '\0' || strlen(field[i]) >= NAMEDATALEN ||
			strpbrk(field[i], " \t") != NULL)
		{
			GUC_check_errdetail("Rule \"%s\" has an empty, blank or too long field.",
								shown);
			return false;
		}

	if (strcmp(field[0], "logical") == 0 || strcmp(field[0], "physical") == 0 ||
		strcmp(field[0], "*") == 0)
		rule->type = field[0][0];
	else
	{
		GUC_check_errdetail("Rule \"%s\": the slot type must be logical, physical or *, not \"%s\".",
							shown, field[0]);
		return false;
	}
	if (rule->type == 'p' && strcmp(field[1], "*") != 0)
	{
		GUC_check_errdetail("Rule \"%s\": a physical slot has no output plugin; write physical:*:name.",
							shown);
		return false;
	}
	if (strspn(field[2], "abcdefghijklmnopqrstuvwxyz0123456789_*") != strlen(field[2]))
	{
		GUC_check_errdetail("Rule \"%s\": \"%s\" is not a slot name pattern.", shown, field[2]);
		GUC_check_errhint("A pattern has the characters of slot names (lower-case letters, digits, underscores), and * for any characters%s.",
						  strchr(field[2], '%') != NULL ? ", not %" : "");
		return false;
	}
	namestrcpy(&rule->plugin, field[1]);
	namestrcpy(&rule->pattern, field[2]);
	return true;
}

/*
 * Take the parsed rules; an empty list turns automatic marking off.
 */
static void
sf_assign_auto_mark(const char *newval, void *extra)
{
	AutoMarkRules *rules = (AutoMarkRules *) extra;

	auto_mark_rules = rules != NULL && rules->n > 0 ? rules : NULL;
}

/*
 * Do the rules of slot_failover.auto_mark mark this slot?  Some rule that
 * includes matches it, and no rule that excludes, in whatever order.
 */
static bool
sf_auto_mark_matches(const SlotState *state, const char *name)
{
	bool		included = false;

	for (int i = 0; i < auto_mark_rules->n; i++)
	{
		const AutoMarkRule *rule = &auto_mark_rules->rules[i];

		if ((rule->type == '*' || (rule->type == 'l') == state->logical) &&
			(strcmp(NameStr(rule->plugin), "*") == 0 ||
			 (state->logical &&
			  strcmp(NameStr(rule->plugin), NameStr(state->plugin)) == 0)) &&
			sf_name_matches(NameStr(rule->pattern), name))
		{
			if (rule->exclude)
				return false;
			included = true;
		}
	}
	return included;
}

/*
 * Does the name match the pattern, in which '*' matches any run of
 * characters (slot names have none) and every other character itself?
 * Backtracks to the last '*' only, so it is linear in practice.
 */
static bool
sf_name_matches(const char *pattern, const char *name)
{
	const char *star = NULL;
	const char *resume = NULL;

	while (*name != '\0')
	{
		if (*pattern == '*')
		{
			star = pattern++;
			resume = name;
		}
		else if (*pattern == *name)
		{
			pattern++;
			name++;
		}
		else if (star != NULL)
		{
			pattern = star + 1;
			name = ++resume;
		}
		else
			return false;
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

/*
 * Mark the slot in the current transaction: record it in the table, so
 * that every standby that replays the commit keeps a copy of it.  For
 * mark(), and for the worker's automatic marks.  Returns false, doing
 * nothing, if it is marked already, and with missing_ok if it is not a
 * persistent slot.
 *
 * The row is locked first, so that we are ordered after any other
 * transaction marking or unmarking the slot; only then is the identity
 * recorded in the slot's marker, and the row made to describe the slot
 * that holds it.
 */
bool
sf_primary_mark(Name slot_name, bool missing_ok)
{
	SlotState	state;
	SlotState	now;
	Oid			save_userid;
	int			save_sec;
	int64		row_identity;
	int64		identity;

	sf_table_begin_as_owner(&save_userid, &save_sec);

	/* zeroed, padding included: the two are compared with memcmp() */
	memset(&state, 0, sizeof(state));
	memset(&now, 0, sizeof(now));
	row_identity = sf_table_row_identity(slot_name);
	if (!sf_slot_read(NameStr(*slot_name), &state) ||
		(missing_ok && !state.persistent))
	{
		if (!missing_ok)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("replication slot \"%s\" does not exist",
							NameStr(*slot_name))));
		sf_table_end_as_owner(save_userid, save_sec);
		return false;
	}
	if (!state.persistent)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot mark temporary replication slot \"%s\" for failover",
						NameStr(*slot_name)),
				 errdetail("A temporary slot is dropped when its session ends; no standby could continue from it.")));
	if (state.core_failover)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot mark replication slot \"%s\" for failover", NameStr(*slot_name)),
				 errdetail("The slot was created or altered with failover = true, so PostgreSQL's own slot synchronization carries it to standbys that set sync_replication_slots."),
				 errhint("To have slot_failover carry it instead, turn its failover option off with ALTER SUBSCRIPTION ... SET (failover = false) or ALTER_REPLICATION_SLOT ... (FAILOVER false).")));
	if (row_identity != 0 &&
		sf_marker_read(NameStr(*slot_name), NULL) == row_identity)
	{
		sf_table_end_as_owner(save_userid, save_sec);
		return false;
	}

	do
	{
		if (!pg_strong_random(&identity, sizeof(identity)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random slot identity")));
		identity &= PG_INT64_MAX;
	} while (identity == 0);

	sf_table_insert_row(slot_name, identity, &state,
						state.logical ? sf_snapshot_read(state.restart_lsn) : NULL);

	/*
	 * Tie the identity to the slot as it is now.  Should it have moved, or
	 * been dropped and created again, since we read it, the row takes the
	 * state of the slot that holds the marker.
	 */
	sf_marker_lock();
	if (!sf_slot_read(NameStr(*slot_name), &now) || !now.persistent)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("replication slot \"%s\" was dropped while it was being marked",
						NameStr(*slot_name))));
	sf_marker_record(NameStr(*slot_name), identity);
	sf_marker_unlock();
	if (memcmp(&now, &state, sizeof(SlotState)) != 0)
		sf_table_insert_row(slot_name, identity, &now,
							now.logical ? sf_snapshot_read(now.restart_lsn) : NULL);

	sf_table_end_as_owner(save_userid, save_sec);
	return true;
}

/*
 * Mark the persistent slots that slot_failover.auto_mark matches and that
 * have no row, but those unmarked explicitly (see the file header), in
 * one transaction; then reload the worker's copy of the table.  Returns
 * the number of slots marked.  Looking costs a pass over the slot array,
 * and a read of the marker of each matching slot without a row.
 */
static int
sf_auto_mark(void)
{
	NameData   *names = palloc(sizeof(NameData) * max_replication_slots);
	int			ncandidates = 0;
	int			nmarked = 0;
	Oid			relid;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
		SlotState	state;

		/* in_use and the name cannot change while we hold the lock */
		if (!slot->in_use ||
			hash_search(marks, NameStr(slot->data.name), HASH_FIND, NULL) != NULL)
			continue;
		sf_slot_copy(slot, &state);
		/* a failover = true slot is core's (see sf_primary_cycle) */
		if (state.persistent && !state.core_failover &&
			sf_auto_mark_matches(&state, NameStr(slot->data.name)))
			names[ncandidates++] = slot->data.name;
	}
	LWLockRelease(ReplicationSlotControlLock);

	for (int i = 0; i < ncandidates; i++)
		if (sf_marker_may_auto_mark(NameStr(names[i])))
			names[nmarked++] = names[i];
	if (nmarked == 0)
		return 0;

	pgstat_report_activity(STATE_RUNNING, "marking replication slots (slot_failover.auto_mark)");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	/*
	 * A user's mark() may hold a row we are about to insert (its insert and
	 * its marker entry are not one step): wait for it a moment at most, and
	 * try again in the next cycle.
	 */
	(void) set_config_option("lock_timeout", "1s", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	ncandidates = nmarked;
	nmarked = 0;
	relid = sf_table_oid();
	if (OidIsValid(relid) && relid == marks_relid)
		for (int i = 0; i < ncandidates; i++)
			if (sf_primary_mark(&names[i], true))
			{
				ereport(LOG,
						(errmsg("marked replication slot \"%s\" for failover",
								NameStr(names[i])),
						 errdetail("It matches \"%s\".", "slot_failover.auto_mark")));
				nmarked++;
			}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	/* also if the extension was created since we read the table */
	if (nmarked > 0 || relid != marks_relid)
		sf_load_marks(marks_generation);
	return nmarked;
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
	List	   *names = sf_persistent_slot_names();
	ListCell   *lc;

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
	MemoryContext oldcxt = CurrentMemoryContext;
	HASHCTL		ctl;
	SlotRow    *rows;
	int			nrows;

	sf_primary_forget();
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(MarkedSlot);
	ctl.hcxt = TopMemoryContext;
	marks = hash_create("slot_failover marks", 64, &ctl,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	marks_relid = sf_table_oid();
	if (!OidIsValid(marks_relid))
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
		rows = sf_table_read(&nrows, false);
		PopActiveSnapshot();

		for (int i = 0; i < nrows; i++)
		{
			MarkedSlot *row;
			bool		waiting;

			if (!sf_row_is_ours(NameStr(rows[i].name), rows[i].system_identifier))
				continue;
			row = hash_search(marks, NameStr(rows[i].name), HASH_ENTER, NULL);
			row->written = rows[i];
			row->locked_out_since = 0;
			row->marker_matches =
				sf_marker_read(NameStr(row->written.name), &waiting) ==
				row->written.identity && !waiting;
		}
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(oldcxt);

	marks_generation = generation;
	settled_since_start = true;
	sf_publish_locked_out();
	sf_publish_rows();

	/* everything before now counts as somebody else's work */
	seen_completions = sf_xact_completion_count();
	frontier = GetXLogInsertRecPtr();
	foreign_since_write = true;
}

/*
 * Is the table not the one the worker's copy was read from (the extension
 * was dropped, or created, since)?  A read-only transaction: no xid, no
 * WAL.
 */
static bool
sf_table_recreated(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	Oid			relid;

	StartTransactionCommand();
	relid = sf_table_oid();
	CommitTransactionCommand();
	MemoryContextSwitchTo(oldcxt);
	return relid != marks_relid;
}

/*
 * Was the row written by this cluster?  One that another cluster wrote
 * (it came through a subscription, or a dump) describes none of our slots:
 * leave it alone, and say so once.
 */
static bool
sf_row_is_ours(const char *name, uint64 system_identifier)
{
	ListCell   *lc;
	MemoryContext oldcxt;

	if (system_identifier == GetSystemIdentifier())
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
	return now->restart_lsn != row->written.restart_lsn ||
		now->confirmed_flush != row->written.confirmed_flush ||
		now->xmin != row->written.xmin ||
		now->catalog_xmin != row->written.catalog_xmin ||
		now->invalidated != row->written.invalidated ||
		now->two_phase != row->written.two_phase ||
		(now->two_phase && now->two_phase_at != row->written.two_phase_at);
}

/*
 * Is the difference between a row and its slot worth a write?  See "Our
 * own writes" in the file header.  Enabling two_phase is never an echo.
 */
static bool
sf_worth_writing(MarkedSlot *row, SlotState *now)
{
	if (now->invalidated != row->written.invalidated ||
		now->two_phase != row->written.two_phase ||
		(now->two_phase && now->two_phase_at != row->written.two_phase_at))
		return true;
	if (Min(now->restart_lsn, frontier) != Min(row->written.restart_lsn, frontier) ||
		Min(now->confirmed_flush, frontier) != Min(row->written.confirmed_flush, frontier))
		return true;
	if (sf_xmin_retreated(row->written.catalog_xmin, now->catalog_xmin))
		return true;
	return foreign_since_write &&
		(now->xmin != row->written.xmin || now->catalog_xmin != row->written.catalog_xmin);
}

/*
 * Did a catalog_xmin appear, vanish or move backwards?  That is never an
 * echo of our own writes, and a standby waits for it: standby.c checks
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
 * slots, then mark the slots slot_failover.auto_mark matches (last, so
 * that a slot it fails to mark never holds up the others' rows).  With
 * exact, every difference is written.  generation counts the transactions
 * that ran mark() or unmark(): when it moved, the table is read again.
 * Returns the number of rows written.
 */
int
sf_primary_cycle(bool exact, uint64 generation)
{
	MemoryContext cycle_context = CurrentMemoryContext;
	int			written = sf_sync_rows(exact, generation);

	/* a transaction that ended there left us in TopMemoryContext */
	MemoryContextSwitchTo(cycle_context);
	if (auto_mark_rules != NULL)
		written += sf_auto_mark();
	return written;
}

/*
 * Bring the table in line with the marked slots (sf_primary_cycle).
 */
static int
sf_sync_rows(bool exact, uint64 generation)
{
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

	/* sync() also checks that the table was not created again */
	if (marks == NULL || generation != marks_generation ||
		(exact && sf_table_recreated()))
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
		sf_slot_copy(slot, &current[i]);
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
			!sf_marker_present(NameStr(row->written.name)))
			deletes[ndeletes++] = row;
		else if (row->now->core_failover)
		{
			/*
			 * failover = true since it was marked: core's slot sync carries
			 * it now, and a copy of ours on a standby would make core's
			 * worker fail on the name, so the row goes.
			 */
			ereport(LOG,
					(errmsg("replication slot \"%s\" is no longer marked for failover by slot_failover",
							NameStr(row->written.name)),
					 errdetail("Its failover option was turned on: PostgreSQL's own slot synchronization carries it now.")));
			deletes[ndeletes++] = row;
		}
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
	int			written;
	bool		had_xid;
	MarkedSlot **all;
	MarkedSlot **held = palloc(sizeof(MarkedSlot *) * Max(nupdates, 1));
	SlotRow    *next = palloc(sizeof(SlotRow) * Max(nupdates, 1));
	bool	   *snapshot_moved = palloc(sizeof(bool) * Max(nupdates, 1));
	SlotRow    *gone = palloc(sizeof(SlotRow) * Max(ndeletes, 1));
	int			nheld = 0;
	int			ngone = 0;

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

	if (sf_table_oid() != marks_relid)
	{
		/* DROP EXTENSION, maybe CREATE again: the rows we know are gone */
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		sf_load_marks(marks_generation);
		return 0;
	}

	all = palloc(sizeof(MarkedSlot *) * (nupdates + ndeletes));
	memcpy(all, updates, sizeof(MarkedSlot *) * nupdates);
	memcpy(all + nupdates, deletes, sizeof(MarkedSlot *) * ndeletes);
	sf_lock_rows(all, nupdates + ndeletes);

	/* the rows we hold, and what they are to say */
	for (int r = 0; r < nupdates; r++)
		if (updates[r]->locked_out_since == 0)
		{
			sf_next_row(&next[nheld], &snapshot_moved[nheld], updates[r],
						&states[r]);
			held[nheld++] = updates[r];
		}
	for (int r = 0; r < ndeletes; r++)
		if (deletes[r]->locked_out_since == 0)
			gone[ngone++] = deletes[r]->written;

	written = sf_table_update_rows(next, snapshot_moved, nheld);
	written += sf_table_delete_rows(gone, ngone);
	had_xid = TransactionIdIsValid(GetTopTransactionIdIfAny());

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	/* the rows now say what we wrote */
	for (int i = 0; i < nheld; i++)
	{
		held[i]->written = next[i];
		held[i]->written.snapshot = NULL;
	}
	for (int i = 0; i < ngone; i++)
		hash_search(marks, NameStr(gone[i].name), HASH_REMOVE, NULL);
	sf_publish_locked_out();
	sf_publish_rows();
	sf_observe_own_write(completions_before, had_xid);

	return written;
}

/*
 * After our write: if ours was the only transaction to end meanwhile, what
 * we just wrote is no reason to write again; otherwise somebody else was
 * busy too.  (Ours counts only if it had an xid: with every row held by
 * others, it wrote nothing.)
 */
static void
sf_observe_own_write(uint64 completions_before, bool had_xid)
{
	uint64		completions_after = sf_xact_completion_count();

	if (had_xid && completions_after == completions_before + 1)
	{
		seen_completions = completions_after;
		foreign_since_write = false;
	}
	else
		sf_observe_activity();
}

/*
 * What a marked slot's row is to say now that its slot is in state s; a
 * logical slot's decoding snapshot goes with a new restart_lsn.
 */
static void
sf_next_row(SlotRow *next, bool *snapshot_moved, const MarkedSlot *row,
			const SlotState *s)
{
	*next = row->written;
	next->two_phase = s->two_phase;
	next->two_phase_at = s->two_phase ? s->two_phase_at : InvalidXLogRecPtr;
	next->restart_lsn = s->restart_lsn;
	next->confirmed_flush = s->confirmed_flush;
	next->catalog_xmin = s->catalog_xmin;
	next->xmin = s->xmin;
	next->invalidated = s->invalidated;
	*snapshot_moved = row->written.restart_lsn != s->restart_lsn;
	next->snapshot = s->logical && *snapshot_moved ?
		sf_snapshot_read(s->restart_lsn) : NULL;
}

/*
 * Lock the rows of these marked slots for this transaction, skipping those
 * another transaction holds, so that an open mark() or unmark() delays only
 * its own row.  Each row's locked_out_since says whether we could.
 */
static void
sf_lock_rows(MarkedSlot **rows, int nrows)
{
	NameData   *names = palloc(sizeof(NameData) * Max(nrows, 1));
	bool	   *locked = palloc(sizeof(bool) * Max(nrows, 1));
	TimestampTz now = GetCurrentTimestamp();

	for (int r = 0; r < nrows; r++)
		names[r] = rows[r]->written.name;
	sf_table_lock_rows(names, nrows, locked);
	for (int r = 0; r < nrows; r++)
	{
		if (locked[r])
			rows[r]->locked_out_since = 0;
		else if (rows[r]->locked_out_since == 0)
			rows[r]->locked_out_since = now;
	}
}

/*
 * Show the rows a user's transaction keeps us from writing on the status
 * board (status.c), which the status view reads.
 */
static void
sf_publish_locked_out(void)
{
	HASH_SEQ_STATUS seq;
	MarkedSlot *row;
	SlotFailoverCopyStatus *entries;
	int			n = 0;

	entries = palloc(sizeof(SlotFailoverCopyStatus) *
					 Max(hash_get_num_entries(marks), 1));
	hash_seq_init(&seq, marks);
	while ((row = hash_seq_search(&seq)) != NULL)
	{
		SlotFailoverCopyStatus *status = &entries[n];

		if (row->locked_out_since == 0)
			continue;
		status->name = row->written.name;
		status->state = SF_COPY_WAITING;
		strlcpy(status->reason, SF_LOCKED_OUT_REASON, SF_REASON_LEN);
		status->changed_at = row->locked_out_since;
		n++;
	}
	sf_status_publish(entries, n);
	pfree(entries);
}

/*
 * Tell the gate which slots have rows, and which of them record two_phase
 * from where: a gated walsender sends nothing of a slot whose two_phase
 * its row does not record yet (gate.c).  Only rows that hold, with their
 * marker.
 */
static void
sf_publish_rows(void)
{
	long		nmarks = marks != NULL ? hash_get_num_entries(marks) : 0;
	NameData   *names = palloc(sizeof(NameData) * Max(nmarks, 1));
	XLogRecPtr *two_phase_at = palloc(sizeof(XLogRecPtr) * Max(nmarks, 1));
	int			n = 0;
	HASH_SEQ_STATUS seq;
	MarkedSlot *row;

	if (marks != NULL)
	{
		hash_seq_init(&seq, marks);
		while ((row = hash_seq_search(&seq)) != NULL)
		{
			if (!row->marker_matches)
				continue;
			names[n] = row->written.name;
			two_phase_at[n++] = row->written.two_phase ?
				row->written.two_phase_at : InvalidXLogRecPtr;
		}
	}
	sf_gate_set_rows(names, two_phase_at, n);
	pfree(names);
	pfree(two_phase_at);
}
