# Copyright (c) 2026, slot_failover developers

# Crash safety of the copies: after a fast or an immediate shutdown of the
# standby, ready copies are still ready with the same positions, waiting
# ones wait on, nothing is duplicated or leaked.  And DROP DATABASE on the
# primary, of a database whose slot has a copy, never stops the standby's
# replay.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary');
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE public.t (id int);
CREATE DATABASE doomed;
SELECT pg_create_physical_replication_slot('standby_slot', true);
});
$primary->backup('backup');

my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');

$primary->safe_psql(
	'postgres', q{
SELECT pg_create_logical_replication_slot('ready_copy', 'test_decoding');
SELECT pg_create_logical_replication_slot('waiting_copy', 'test_decoding');
SELECT slot_failover.mark('ready_copy');
SELECT slot_failover.mark('waiting_copy');
});
ok(wait_for_copy_state($standby, [ 'ready_copy', 'waiting_copy' ], undef),
	'the standby made both copies');

# Move 'ready_copy' past the standby's reservation; 'waiting_copy' stays.
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
ok(make_copy_ready($primary, $standby, 'ready_copy'), 'one copy is ready');

my $state_query = q{
SELECT string_agg(format('%s:%s:%s:%s:%s', s.slot_name, c.state, r.restart_lsn,
                         r.confirmed_flush_lsn, r.catalog_xmin), ' ' ORDER BY s.slot_name)
FROM slot_failover.slots s
LEFT JOIN slot_failover.copy_status() c USING (slot_name)
LEFT JOIN pg_replication_slots r USING (slot_name)
WHERE s.slot_name LIKE '%copy'};
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');
my $before = $standby->safe_psql('postgres', $state_query);
like($before, qr/ready_copy:ready:.*waiting_copy:waiting:/, 'one ready, one waiting');

for my $mode ('fast', 'immediate')
{
	$standby->stop($mode);
	$standby->start;
	$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');
	is($standby->safe_psql('postgres', $state_query),
		$before, "after a $mode shutdown: same states and positions");
	is( $standby->safe_psql(
			'postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%copy'"),
		'2',
		"after a $mode shutdown: no copy is duplicated or leaked");
}

##########
# DROP DATABASE of a database whose slot has a copy: replay goes on, and
# the copy is gone.
##########
$primary->safe_psql('doomed',
	"SELECT pg_create_logical_replication_slot('doomed_slot', 'test_decoding')");
$primary->safe_psql('postgres', "SELECT slot_failover.mark('doomed_slot')");
ok( $standby->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name = 'doomed_slot'"),
	'the slot in the doomed database has a copy');

# Drop the slot and the database while the primary's worker naps, so that
# its row is still there: the standby replays DROP DATABASE while the
# worker holds the copy, and must let go of it for replay to go on.
$primary->safe_psql('postgres', "ALTER SYSTEM SET slot_failover.naptime = '1h'");
$primary->reload;
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
my $log_offset = -s $standby->logfile;
$primary->safe_psql('postgres', "SELECT pg_drop_replication_slot('doomed_slot')");
$primary->safe_psql('postgres', 'DROP DATABASE doomed');
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (2)');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', 'SELECT count(*) FROM public.t'),
	'2', 'the standby replays past DROP DATABASE');
$standby->wait_for_log(
	qr/LOG:  letting go of copies of replication slots in database with OID \d+, which replay is about to drop/,
	$log_offset);
$primary->safe_psql('postgres', 'ALTER SYSTEM RESET slot_failover.naptime');
$primary->reload;
ok( $standby->poll_query_until(
		'postgres',
		"SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name = 'doomed_slot'"),
	'the copy is gone');
ok( $standby->poll_query_until(
		'postgres', "SELECT count(*) = 0 FROM slot_failover.status WHERE slot_name = 'doomed_slot'"),
	'and so is its row');

$standby->stop;
$primary->stop;
done_testing();
