# Copyright (c) 2026, slot_failover developers

# Marks follow their transaction across a crash: a crash with an open
# transaction that marked and unmarked slots leaves the marks as they were
# committed, and marks committed while the worker could not settle them
# are settled, in the direction of the committed rows, at its next start.
# (The cases without a crash are in sql/slot_failover.sql.)
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use SlotFailoverTest;

my $node = new_primary('primary');
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
SELECT 'init' FROM pg_create_physical_replication_slot('kept', true);
SELECT 'init' FROM pg_create_physical_replication_slot('fresh', true);
SELECT slot_failover.mark('kept');
});

# What the slot's marker file says: the identity of the slot's committed
# row alone, nothing (no file), a committed unmark() alone (-1, which
# slot_failover.auto_mark respects), or something else.
sub marker_state
{
	my ($slot) = @_;
	my $file = $node->data_dir . "/pg_replslot/$slot/slot_failover.id";
	my $row = $node->safe_psql('postgres',
		"SELECT slot_identity FROM slot_failover.slots WHERE slot_name = '$slot'"
	);

	return 'none' unless -e $file;
	return 'unmarked' if slurp_file($file) eq "-1\n";
	return slurp_file($file) eq "$row\n" ? 'row' : 'stale';
}

is(marker_state('kept'), 'row', 'a committed mark names its row');

##########
# A crash while a transaction that marked one slot and unmarked another is
# open: neither change happened.
##########
my $session = $node->background_psql('postgres');
$session->query_safe(
	q{BEGIN; SELECT slot_failover.mark('fresh'); SELECT slot_failover.unmark('kept')}
);
$node->stop('immediate');
$session->quit;

my $offset = -s $node->logfile;
$node->start;
$node->wait_for_log(
	qr/settled the failover mark of replication slot "fresh", left by transaction \d+/,
	$offset);
$node->safe_psql('postgres', 'SELECT slot_failover.sync()');
is( $node->safe_psql(
		'postgres', 'SELECT string_agg(slot_name, \',\') FROM slot_failover.slots'),
	'kept',
	'after a crash in the transaction, the rows are as they were');
is(marker_state('fresh'), 'none', 'the uncommitted mark left no marker');
is(marker_state('kept'), 'row', 'the uncommitted unmark left the marker');

##########
# A crash after a commit, before the worker could settle the markers (it is
# stopped): the worker's next start settles them as the rows say.
##########
my $worker_pid = $node->safe_psql('postgres', 'SELECT pid FROM slot_failover.worker');
kill 'STOP', $worker_pid;
$node->safe_psql(
	'postgres', q{
BEGIN;
SELECT slot_failover.mark('fresh');
SELECT slot_failover.unmark('kept');
COMMIT;
});
isnt(marker_state('fresh'), 'row', 'the marker is not settled before the crash');
# the postmaster kills the stopped worker too
$node->stop('immediate');

$offset = -s $node->logfile;
$node->start;
$node->wait_for_log(
	qr/settled the failover mark of replication slot "kept", left by transaction \d+.*\n.*the slot is not marked/,
	$offset);
$node->wait_for_log(
	qr/settled the failover mark of replication slot "fresh", left by transaction \d+.*\n.*the slot is marked/,
	$offset);
$node->safe_psql('postgres', 'SELECT slot_failover.sync()');
is( $node->safe_psql(
		'postgres', 'SELECT string_agg(slot_name, \',\') FROM slot_failover.slots'),
	'fresh',
	'after a crash past the commit, the rows are as committed');
is(marker_state('fresh'), 'row', 'the committed mark is settled');
is(marker_state('kept'), 'unmarked', 'the committed unmark is settled, and remembered');

done_testing();
