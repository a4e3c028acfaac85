# Copyright (c) 2026, slot_failover developers

# An idle primary stays idle: with 100 marked idle slots, a marked physical
# slot streaming to a standby with hot_standby_feedback, and a marked
# logical slot streamed by pg_recvlogical, 30 seconds and hundreds of worker
# cycles pass without slot_failover writing a row or any WAL.  The streaming
# clients confirm whatever WAL appears, including the worker's own writes;
# recording that would write again, for ever.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;
use IPC::Run;

my $window_seconds = 30;
my $naptime_ms = 100;

my $primary = new_primary(
	'primary',
	naptime => "${naptime_ms}ms",
	conf => "max_replication_slots = 110\n");

$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT pg_create_logical_replication_slot('streamed', 'test_decoding');
SELECT pg_create_physical_replication_slot('idle_' || i, true)
FROM generate_series(1, 100) AS i;
SELECT slot_failover.mark(slot_name) FROM pg_replication_slots;
});
is($primary->safe_psql('postgres', 'SELECT count(*) FROM slot_failover.slots'),
	'102', '102 slots are marked');

$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');

# Its output goes to a file: a pipe that nobody reads fills up, and
# pg_recvlogical then stops confirming.
my $recv_err = '';
my $recvlogical = IPC::Run::start(
	[
		'pg_recvlogical', '--dbname', $primary->connstr('postgres'),
		'--slot', 'streamed', '--start',
		'--file', $primary->basedir . '/streamed.out',
		'--status-interval', '1', '--no-loop'
	],
	'2>', \$recv_err);

# Nothing in the window may be left for PostgreSQL to clean up later.
$primary->safe_psql('postgres', 'VACUUM');
$primary->safe_psql('postgres', 'CHECKPOINT');

# Let both clients confirm everything written so far, and the standby's
# feedback carry the catalog_xmin of its copy of 'streamed' to the primary
# (it is sent every wal_receiver_status_interval): a catalog_xmin that
# appears is always written, since a standby waits for it.  Then the table
# records it all exactly.
my $settled = $primary->lsn('insert');
$primary->wait_for_catchup($standby, 'replay', $settled);
ok( $primary->poll_query_until(
		'postgres',
		"SELECT confirmed_flush_lsn >= '$settled' FROM pg_replication_slots WHERE slot_name = 'streamed'"
	),
	'pg_recvlogical streams the marked logical slot');
ok( $primary->poll_query_until(
		'postgres',
		"SELECT catalog_xmin IS NOT NULL FROM pg_replication_slots WHERE slot_name = 'standby_slot'"
	),
	'the standby holds catalog rows for its copy on the primary');
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');

my $rows_before = $primary->safe_psql('postgres',
	q{SELECT string_agg(slot_name || '@' || updated_at, ' ' ORDER BY slot_name) FROM slot_failover.slots}
);

my ($start_lsn, $start_cycles, $start_written) = split /\|/,
  $primary->safe_psql('postgres',
	'SELECT pg_current_wal_insert_lsn(), cycles, rows_written FROM slot_failover.worker');
my $start_time = $primary->safe_psql('postgres', 'SELECT now()');
my $min_cycles = $window_seconds * 1000 / $naptime_ms * 9 / 10;

# Only slot_failover.worker is read while we watch: it reads no table.
ok( $primary->poll_query_until(
		'postgres', qq{
SELECT cycles >= $start_cycles + $min_cycles
   AND now() - '$start_time'::timestamptz >= '$window_seconds s'
FROM slot_failover.worker}),
	"the worker ran at least $min_cycles cycles in $window_seconds s");
my $end_lsn = $primary->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');

is( $primary->safe_psql('postgres', 'SELECT rows_written FROM slot_failover.worker'),
	$start_written, 'the worker wrote no row while idle');
is( $primary->safe_psql(
		'postgres',
		q{SELECT string_agg(slot_name || '@' || updated_at, ' ' ORDER BY slot_name) FROM slot_failover.slots}
	),
	$rows_before,
	'no row was updated while idle');

my ($waldump_out, $waldump_err) = ('', '');
if ($start_lsn ne $end_lsn)
{
	IPC::Run::run [
		'pg_waldump', '--path', $primary->data_dir . '/pg_wal',
		'--start', $start_lsn, '--end', $end_lsn
	  ],
	  '>', \$waldump_out, '2>', \$waldump_err
	  or die "pg_waldump failed: $waldump_err";
}
my @records = grep { /^rmgr:/ } split /\n/, $waldump_out;
my @foreign = grep { !/^rmgr: Standby .* desc: RUNNING_XACTS / } @records;
is(scalar(@foreign), 0,
	'the WAL of the window holds nothing but running-xacts records')
  or diag join("\n", @foreign);
note scalar(@records) . " records from $start_lsn to $end_lsn";

$recvlogical->kill_kill;
$standby->stop;
$primary->stop;
done_testing();
