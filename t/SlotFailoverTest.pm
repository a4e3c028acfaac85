# Copyright (c) 2026, slot_failover developers

# The nodes slot_failover's tests and benchmarks build, how they wait for
# and make a standby's copies of marked slots, and what they read from
# their logs, so that each test shows only what is particular to it.
package SlotFailoverTest;

use strict;
use warnings FATAL => 'all';
use Carp;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(new_primary new_standby wait_for_copy_state move_slots
  sync_standby make_copy_ready connstr_literal apply_errors);

# A started primary fit for logical decoding, with slot_failover preloaded
# and a short naptime.  Autovacuum is off: it writes WAL and consumes xids
# of its own, which would blur what the tests watch.  Options: archiving
# (archive WAL for restore_command standbys), naptime (slot_failover.naptime,
# default 50ms; undef leaves slot_failover's default), autovacuum (leave it
# on), extension (create slot_failover in database postgres once started),
# standby_slot (also create the table public.t (id int PRIMARY KEY) and the
# physical slot standby_slot, reserving WAL, for a streaming standby),
# conf (appended last).
sub new_primary
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	my $naptime = exists $opts{naptime} ? $opts{naptime} : '50ms';

	$node->init(
		allows_streaming => 'logical',
		has_archiving => $opts{archiving} // 0);
	$node->append_conf('postgresql.conf',
		"\nshared_preload_libraries = 'slot_failover'\n"
		  . (defined $naptime ? "slot_failover.naptime = $naptime\n" : '')
		  . ($opts{autovacuum} ? '' : "autovacuum = off\n")
		  . ($opts{conf} // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION slot_failover')
	  if $opts{extension} || $opts{standby_slot};
	$node->safe_psql(
		'postgres', q{
CREATE TABLE public.t (id int PRIMARY KEY);
SELECT pg_create_physical_replication_slot('standby_slot', true);
}) if $opts{standby_slot};
	return $node;
}

# A started standby made from the backup $backup of $upstream.  Options:
# slot (stream through this physical slot with hot_standby_feedback),
# restoring (fed by restore_command only, no streaming), conf (appended).
sub new_standby
{
	my ($upstream, $backup, $name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	if ($opts{restoring})
	{
		$node->init_from_backup($upstream, $backup, has_restoring => 1);
	}
	else
	{
		$node->init_from_backup($upstream, $backup, has_streaming => 1);
	}
	$node->append_conf(
		'postgresql.conf', qq{
primary_slot_name = '$opts{slot}'
hot_standby_feedback = on
}) if $opts{slot};
	$node->append_conf('postgresql.conf', $opts{conf}) if $opts{conf};
	$node->start;
	return $node;
}

# An SQL list of the names in $names (a name, or a list of names), and how
# many there are.
sub _name_list
{
	my ($names) = @_;
	my @names = ref $names ? @$names : ($names);
	return (join(', ', map { "'$_'" } @names), scalar @names);
}

# Wait until the copies of $slots (a slot name, or a list of them) on
# $standby all have the state $state in slot_failover.status: a state, a
# list of states, or undef for any state (the standby has made the copy).
# Option also: an SQL condition that each of their status rows must meet
# as well.  Dies when poll_query_until gives up, showing the status view.
# Returns 1, for ok().
sub wait_for_copy_state
{
	my ($standby, $slots, $state, %opts) = @_;
	my ($names, $count) = _name_list($slots);
	my $states =
	  defined $state ? 'state IN (' . (_name_list($state))[0] . ')' : 'state IS NOT NULL';
	my $also = defined $opts{also} ? " AND ($opts{also})" : '';
	my $what = defined $state ? join(' or ', ref $state ? @$state : $state) : 'any state';

	$standby->poll_query_until('postgres',
		"SELECT count(*) = $count FROM slot_failover.status WHERE slot_name IN ($names) AND $states$also"
	  )
	  or croak $standby->name
	  . ": the copies of $names did not reach $what"
	  . ($opts{also} ? " with $opts{also}" : '')
	  . "; slot_failover.status:\n"
	  . $standby->safe_psql('postgres', 'TABLE slot_failover.status');
	return 1;
}

# Move the slots $slots (a slot name, or a list of them) of $primary to its
# current position, past what its standbys reserved: each logical slot
# consumes its changes, after a CHECKPOINT that logs the running
# transactions it needs to move its restart point; each physical slot is
# advanced.  A transaction running at that checkpoint (the worker writing a
# row, say) keeps a logical slot's restart point before it: then another
# round, up to five, until every logical slot restarts past where the call
# began (a test that holds a transaction open on purpose gets five).
# Returns a hash of each slot's new position (confirmed_flush_lsn, or
# restart_lsn for a physical slot).
sub move_slots
{
	my ($primary, $slots) = @_;
	my ($names) = _name_list($slots);
	my $start = $primary->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
	my $logical =
	  "FROM pg_replication_slots WHERE slot_type = 'logical' AND slot_name IN ($names)";

	for my $round (1 .. 5)
	{
		last
		  if $primary->safe_psql('postgres',
			$round == 1
			? "SELECT count(*) = 0 $logical"
			: "SELECT count(*) FILTER (WHERE restart_lsn < '$start') = 0 $logical") eq 't';
		$primary->safe_psql(
			'postgres', qq{
CHECKPOINT;
SELECT count(*) FROM pg_replication_slots,
	LATERAL pg_logical_slot_get_changes(slot_name, NULL, NULL)
WHERE slot_type = 'logical' AND slot_name IN ($names);
});
	}
	$primary->safe_psql(
		'postgres', qq{
SELECT count(pg_replication_slot_advance(slot_name, pg_current_wal_lsn()))
FROM pg_replication_slots WHERE slot_type = 'physical' AND slot_name IN ($names);
});
	my %positions = map { split /\|/ } split /\n/,
	  $primary->safe_psql('postgres',
		"SELECT slot_name, coalesce(confirmed_flush_lsn, restart_lsn) FROM pg_replication_slots WHERE slot_name IN ($names)"
	  );
	return \%positions;
}

# Have $primary record its slots now (slot_failover.sync()), wait until
# $standby has replayed that, and have the standby apply it now (sync()
# there).  Returns the position the primary's sync() returned.
sub sync_standby
{
	my ($primary, $standby) = @_;
	my $lsn = $primary->safe_psql('postgres', 'SELECT slot_failover.sync()');

	$primary->wait_for_catchup($standby, 'replay', $lsn);
	$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');
	return $lsn;
}

# Make the copies of $slots (a slot name, or a list of them) on $standby
# ready: move the slots on $primary past what the standby reserved
# (move_slots), have the primary record them (sync()), and wait until the
# copies are ready (wait_for_copy_state).  Option replay: instead of
# leaving the rest to the standby's worker, wait for the standby to replay
# the primary's sync() and run a cycle with its own (sync_standby).  The
# caller writes first what the slots are to move past.  Returns 1, for ok().
sub make_copy_ready
{
	my ($primary, $standby, $slots, %opts) = @_;

	move_slots($primary, $slots);
	if ($opts{replay})
	{
		sync_standby($primary, $standby);
	}
	else
	{
		$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
	}
	return wait_for_copy_state($standby, $slots, 'ready');
}

# $node's connection string for database postgres, as an SQL literal, for
# CREATE SUBSCRIPTION ... CONNECTION and ALTER SUBSCRIPTION ... CONNECTION.
sub connstr_literal
{
	my ($node) = @_;
	return "'" . ($node->connstr('postgres') =~ s/'/''/gr) . "'";
}

# The ERROR lines a subscriber logged since $offset, but for those a
# failover causes: a lost or refused connection to its publisher, and an
# apply worker started while the one that lost its connection still exits
# (it holds the replication origin for a moment).
sub apply_errors
{
	my ($subscriber, $offset) = @_;
	my $failover = join '|',
	  'could not (receive|send) data (from|to) WAL stream',
	  'could not connect to the publisher',
	  'replication origin with ID \d+ is already active for PID';

	return grep { /ERROR:/ && !/$failover/ } split /\n/,
	  slurp_file($subscriber->logfile, $offset);
}

1;
