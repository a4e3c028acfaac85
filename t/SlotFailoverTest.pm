# Copyright (c) 2026, slot_failover developers

# The nodes slot_failover's tests build, and what they read from their
# logs, so that each test shows only what is particular to it.
package SlotFailoverTest;

use strict;
use warnings FATAL => 'all';
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(new_primary new_standby apply_errors);

# A started primary fit for logical decoding, with slot_failover preloaded
# and a short naptime.  Autovacuum is off: it writes WAL and consumes xids
# of its own, which would blur what the tests watch.  Options: archiving
# (archive WAL for restore_command standbys), conf (appended last).
sub new_primary
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init(
		allows_streaming => 'logical',
		has_archiving => $opts{archiving} // 0);
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'slot_failover'
slot_failover.naptime = 50ms
autovacuum = off
} . ($opts{conf} // ''));
	$node->start;
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
