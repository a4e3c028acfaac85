# Copyright (c) 2026, slot_failover developers

# SQL consumers have a gated path: with the failover standby stopped,
# slot_failover.get_changes() and friends on a marked slot return nothing
# the standby lacks and leave the slot where it was; with the standby back
# they return everything, exactly once.  On an unmarked slot they are the
# core functions.  A cancelled call loses nothing.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', standby_slot => 1);
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_logical_replication_slot('gated', 'test_decoding');
SELECT pg_create_logical_replication_slot('free', 'test_decoding');
SELECT slot_failover.mark('gated');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot'; SELECT pg_reload_conf()");
$primary->poll_query_until('postgres',
	"SELECT current_setting('slot_failover.standby_slot_names') = 'standby_slot'");

# The ids a decoding call returned, in order.
sub ids
{
	my ($sql) = @_;
	return join ',', $primary->safe_psql('postgres', $sql) =~ /id\[integer\]:(\d+)/g;
}

sub confirmed
{
	my ($slot) = @_;
	return $primary->safe_psql('postgres',
		"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'");
}

# Start both slots after the setup's transactions.
$primary->safe_psql('postgres',
	"SELECT count(*) FROM pg_logical_slot_get_changes('$_', NULL, NULL)") for qw(gated free);
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
$primary->wait_for_catchup($standby, 'flush', $primary->lsn('insert'));
is(ids("SELECT data FROM slot_failover.get_changes('gated', NULL, NULL)"), '1',
	'with the standby up, the gated path returns what it has');

##########
# The standby stops.
##########
$standby->stop;
my $flushed = $primary->safe_psql('postgres',
	"SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'standby_slot'");
is($primary->safe_psql('postgres', "SELECT slot_failover.gate_position('gated')"),
	$flushed, 'gate_position() is what the standby flushed');
is($primary->safe_psql('postgres', "SELECT slot_failover.gate_position('free') IS NULL"),
	't', 'and NULL for an unmarked slot');
$primary->safe_psql('postgres', "INSERT INTO public.t VALUES ($_)") for 2 .. 4;
is(ids("SELECT data FROM slot_failover.peek_changes('gated', NULL, NULL)"), '',
	'peek returns nothing the standby lacks');
is(ids("SELECT data FROM slot_failover.get_changes('gated', NULL, NULL)"), '',
	'get returns nothing the standby lacks');
is($primary->safe_psql('postgres',
		"SELECT count(*) FROM slot_failover.get_binary_changes('gated', NULL, NULL)"),
	'0', 'nor does the binary variant');
# (they may consume the worker's own writes of slot_failover.slots that the
# standby has, but nothing past what it flushed)
ok( $primary->safe_psql(
		'postgres',
		"SELECT confirmed_flush_lsn <= '$flushed' FROM pg_replication_slots WHERE slot_name = 'gated'"
	) eq 't',
	'and none of them moved the slot past what the standby flushed');
$primary->safe_psql('postgres',
	"SELECT slot_failover.advance('gated', pg_current_wal_insert_lsn())");
is(confirmed('gated'), $flushed, 'advance moves the slot only as far as the standby flushed');
is(ids("SELECT data FROM slot_failover.get_changes('free', NULL, NULL)"), '1,2,3,4',
	'on an unmarked slot, get returns everything, as the core function does');

##########
# A cancelled call loses nothing: a backlog too long to decode in time.
##########
$standby->start;
my $before = confirmed('gated');
$primary->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(5, 200000)');
$primary->wait_for_catchup($standby, 'flush', $primary->lsn('insert'));
my ($ret, $stdout, $stderr) = $primary->psql('postgres',
	"SET statement_timeout = '50ms'; SELECT count(*) FROM slot_failover.get_changes('gated', NULL, NULL)");
like($stderr, qr/canceling statement due to statement timeout/, 'a call is cancelled');
is(confirmed('gated'), $before, 'and leaves the slot where it was');

##########
# With the standby back, everything comes, exactly once.
##########
my $all = ids("SELECT data FROM slot_failover.get_changes('gated', NULL, NULL)");
is($all, join(',', 2 .. 200000), 'with the standby back, get returns everything');
is(ids("SELECT data FROM slot_failover.get_changes('gated', NULL, NULL)"), '',
	'exactly once');
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (200001)');
my $end = $primary->lsn('insert');
$primary->wait_for_catchup($standby, 'flush', $end);
$primary->safe_psql('postgres', "SELECT slot_failover.advance('gated', '$end')");
is(confirmed('gated'), $end, 'advance moves the slot as far as asked when the standby has it');

done_testing();
