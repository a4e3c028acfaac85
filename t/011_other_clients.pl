# Copyright (c) 2026, slot_failover developers

# Other clients across a kill -9 failover: pg_recvlogical, restarted from
# its last flushed position against the promoted standby, sees every later
# transaction exactly once; a physical follower on a marked physical slot,
# pointed at the promoted standby, continues without missing WAL.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', standby_slot => 1);
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_physical_replication_slot('follower', true);
SELECT pg_create_logical_replication_slot('recv', 'test_decoding');
SELECT slot_failover.mark('follower');
SELECT slot_failover.mark('recv');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');
my $follower = new_standby($primary, 'backup', 'follower', slot => 'follower');
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot'; SELECT pg_reload_conf()");

my $out_before = $primary->basedir . '/before.out';
my $recv = IPC::Run::start(
	[ 'pg_recvlogical', '-d', $primary->connstr('postgres'), '-S', 'recv',
	  '--start', '-f', $out_before, '-F', '0', '-s', '1', '--no-loop' ]);

# Transactions one by one, with checkpoints so that the slot records
# decoding snapshots as it goes.
for my $i (1 .. 50)
{
	$primary->safe_psql('postgres', "INSERT INTO public.t VALUES ($i)");
	$primary->safe_psql('postgres', 'CHECKPOINT') if $i % 10 == 0;
}
my $last = $primary->lsn('insert');
ok( $primary->poll_query_until(
		'postgres', "SELECT confirmed_flush_lsn >= '$last' FROM pg_replication_slots WHERE slot_name = 'recv'"),
	'pg_recvlogical flushed every transaction');
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
ok(wait_for_copy_state($standby, [ 'recv', 'follower' ], 'ready'), 'both copies are ready');
my $flushed = $primary->safe_psql('postgres',
	"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'recv'");
$primary->wait_for_catchup($follower, 'replay', $primary->lsn('insert'));

$primary->stop('immediate');
$recv->finish;
$standby->promote;
$standby->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(51, 60)');

##########
# pg_recvlogical, restarted from its last flushed position.
##########
my $end = $standby->lsn('insert');
my $out_after = $standby->basedir . '/after.out';
IPC::Run::run(
	[ 'pg_recvlogical', '-d', $standby->connstr('postgres'), '-S', 'recv',
	  '--start', '-I', $flushed, '-E', $end, '-f', $out_after, '--no-loop' ])
  or die 'pg_recvlogical failed against the new primary';
my @after = slurp_file($out_after) =~ /table public\.t: INSERT: id\[integer\]:(\d+)/g;
is(join(',', @after), join(',', 51 .. 60),
	'pg_recvlogical gets every later transaction exactly once');
my @before = slurp_file($out_before) =~ /table public\.t: INSERT: id\[integer\]:(\d+)/g;
is(join(',', @before), join(',', 1 .. 50), 'and had every earlier one before');

##########
# The physical follower, pointed at the new primary.
##########
$follower->append_conf('postgresql.conf',
	"primary_conninfo = '" . $standby->connstr . "'");
$follower->reload;
ok($follower->poll_query_until('postgres', 'SELECT count(*) = 60 FROM public.t'),
	'the follower continues from the new primary on its slot');
is( $standby->safe_psql(
		'postgres', "SELECT active FROM pg_replication_slots WHERE slot_name = 'follower'"),
	't', 'through the copy of its slot');

$follower->stop;
$standby->stop;
done_testing();
