# Copyright (c) 2026, slot_failover developers

# Latency the walsender gate adds: from the return of a COMMIT to the
# arrival of its transaction at pg_recvlogical on a marked slot, with
# slot_failover.standby_slot_names off and on (naming the slot of a healthy
# streaming standby on loopback).  One session commits single-row inserts
# one at a time; pg_recvlogical writes to a pipe this script reads; each
# transaction is timed from the moment the session reported its COMMIT to
# the moment its row came out of the pipe.  SF_BENCH_LATENCY_ROUNDS
# (default 500) transactions per setting, off and on alternating in blocks
# of 50.  Goal: the gate adds at most 2 ms at p99.
# Not a test: run it with bench/run gate_latency.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin, "$FindBin::RealBin/../t";
use SlotFailoverTest;
use SlotFailoverBench;

my $rounds = $ENV{SF_BENCH_LATENCY_ROUNDS} // 500;
my $block = 50;
my $goal_ms = 2;

my $primary = new_primary('primary', bench_settings());
$primary->safe_psql('postgres', q{
CREATE TABLE t (id int);
SELECT pg_create_logical_replication_slot('lat', 'test_decoding');
SELECT slot_failover.mark('lat');
});
$primary->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('standby_slot', true)");
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');

my ($sql_in, $sql_out, $recv_out) = ('', '', '');
my $session = IPC::Run::start([ 'psql', '-XAtq', '-d', $primary->connstr('postgres') ],
	'<', \$sql_in, '>', \$sql_out);
my $recv = IPC::Run::start(
	[ 'pg_recvlogical', '-d', $primary->connstr('postgres'), '-S', 'lat',
	  '--start', '-f', '-', '-F', '0', '-s', '1', '--no-loop' ],
	'>', \$recv_out);

sub set_gate
{
	my ($gate) = @_;
	$primary->safe_psql('postgres',
		"ALTER SYSTEM SET slot_failover.standby_slot_names = '$gate'; SELECT pg_reload_conf()");
	# the walsender reads it at its next reload
	$primary->poll_query_until('postgres',
		"SELECT current_setting('slot_failover.standby_slot_names') = '$gate'");
	return;
}

# Commit transaction $id, and time its arrival: ms.
sub one
{
	my ($id) = @_;
	$sql_in .= "INSERT INTO t VALUES ($id); SELECT 'committed $id';\n";
	$session->pump until $sql_out =~ /committed $id\n/;
	my $committed = time;
	$recv->pump until $recv_out =~ /id\[integer\]:$id\n/;
	my $ms = 1000 * (time - $committed);
	($sql_out, $recv_out) = ('', '');
	return $ms;
}

my %ms = ('' => [], standby_slot => []);
my $id = 0;
for my $b (1 .. int($rounds / $block))
{
	for my $gate ($b % 2 ? ('', 'standby_slot') : ('standby_slot', ''))
	{
		set_gate($gate);
		push @{ $ms{$gate} }, one(++$id) for 1 .. $block;
	}
}
$sql_in .= "\\q\n";
$session->finish;
$recv->kill_kill;

my $table = '';
for my $gate ('', 'standby_slot')
{
	$table .= sprintf("| %s | %.2f | %.2f | %.2f |\n", $gate ? 'on' : 'off',
		map { percentile($_, @{ $ms{$gate} }) } 50, 99, 100);
}
my $added = percentile(99, @{ $ms{standby_slot} }) - percentile(99, @{ $ms{''} });
write_result(
	'gate_latency', 'Gate latency', qq{From the return of a COMMIT to the arrival of its row at pg_recvlogical on a
marked slot, with slot_failover.standby_slot_names off and on (a healthy
streaming standby on loopback), $rounds single-row transactions each, one
at a time, in alternating blocks of $block; in ms.

| gate | p50 | p99 | max |
|------|----:|----:|----:|
$table},
	goals => [
		[ "gate adds ≤ $goal_ms ms at p99", sprintf('%.2f ms', $added), $added <= $goal_ms ]
	]);
ok(1, 'bench ran');
done_testing();
