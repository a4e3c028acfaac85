# Copyright (c) 2026, slot_failover developers

# Cost of the walsender gate for a pg_recvlogical consumer of a marked slot,
# with slot_failover.standby_slot_names off and on (naming the slot of a
# healthy streaming standby).  The load is single-row inserts by 4 pgbench
# clients.
#   - catching up: a load of SF_BENCH_TRANSACTIONS (default 200,000) runs
#     once, with no consumer; each measurement copies its slot, marks the
#     copy, and times a consumer streaming the whole backlog from its start.
#     The consumer is the bottleneck, and every measurement does the same
#     work: this is the goal's figure.  The walsender's CPU time
#     (/proc/<pid>/stat) is what the gate adds its work to, and varies far
#     less than the throughput on a shared machine.
#   - streaming: the consumer streams while a load of a quarter as many
#     transactions runs; timed from the start of the load.  This shows
#     whether the consumer keeps up; the load's own rate bounds it.
# Either ends when the walsender has sent the last transaction
# (pg_stat_replication.sent_lsn, which the gate holds back), polled every
# 10 ms on the server.  Catching up is measured in SF_BENCH_GATE_ROUNDS
# rounds (default 20), streaming in a quarter as many; each round measures
# off and on, back to back, in alternating order.  The tables show medians;
# a cost is the median of the rounds' own costs.
# Not a test: run it with bench/run gate.
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

my $transactions = $ENV{SF_BENCH_TRANSACTIONS} // 200000;
my $rounds = $ENV{SF_BENCH_GATE_ROUNDS} // 20;
my $stream_rounds = int(($rounds + 3) / 4);
my $clients = 4;
my $goal_percent = 5;

my $primary = new_primary('primary', bench_settings());
$primary->safe_psql(
	'postgres', q{
CREATE TABLE load (id bigserial PRIMARY KEY, payload text);
-- wait until the walsender of a slot has sent everything up to target;
-- when that was
CREATE FUNCTION wait_sent(slot name, target pg_lsn) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
	LOOP
		IF (SELECT r.sent_lsn >= target FROM pg_stat_replication r
			JOIN pg_replication_slots s ON s.active_pid = r.pid
			WHERE s.slot_name = slot) THEN
			RETURN clock_timestamp();
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
END $$;
});
$primary->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('standby_slot', true)");
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');

my $script = $primary->basedir . '/insert.sql';
append_to_file($script, "INSERT INTO load (payload) VALUES (repeat('x', 100));\n");

# Run a load of $n transactions; returns the insert position after it, and
# pgbench's tps.
sub load
{
	my ($n) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[
			'pgbench', '-n', '-f', $script, '-c', $clients,
			'-t', int($n / $clients), $primary->connstr('postgres')
		],
		'>', \$out, '2>', \$err) or die "pgbench failed: $err";
	my ($tps) = $out =~ /^tps = ([\d.]+)/m or die "no tps in pgbench's output: $out";
	return ($primary->lsn('insert'), $tps);
}

# Set the gate: '' (off) or the standby's slot.
sub set_gate
{
	my ($gate) = @_;
	$primary->safe_psql('postgres',
		"ALTER SYSTEM SET slot_failover.standby_slot_names = '$gate'; SELECT pg_reload_conf()");
	# new connections see the setting once the postmaster has reloaded
	$primary->poll_query_until('postgres',
		"SELECT current_setting('slot_failover.standby_slot_names') = '$gate'")
	  or die "the setting was not reloaded";
	return;
}

# Stream $slot until the walsender has sent $end; returns when that was.
sub wait_sent
{
	my ($slot, $end) = @_;
	return $primary->safe_psql('postgres',
		"SELECT extract(epoch FROM wait_sent('$slot', '$end'))");
}

# With the gate set to $gate, make the marked slot $slot with $create (SQL),
# start a consumer on it, and run $measure with the time it started and
# the walsender's pid; then stop the consumer and drop the slot.  Returns
# what $measure returns.
sub with_consumer
{
	my ($gate, $slot, $create, $measure) = @_;
	set_gate($gate);
	$primary->safe_psql('postgres', "$create; SELECT slot_failover.mark('$slot')");
	my $start = time;
	my $consumer = start_consumer($primary, $slot);
	$primary->poll_query_until('postgres',
		"SELECT active_pid IS NOT NULL FROM pg_replication_slots WHERE slot_name = '$slot'")
	  or die "the consumer did not start";
	my $walsender = $primary->safe_psql('postgres',
		"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$slot'");
	my @result = $measure->($start, $walsender);
	$consumer->kill_kill;
	$primary->safe_psql('postgres', "SELECT pg_drop_replication_slot('$slot')");
	return @result;
}

# A consumer streaming the backlog of slot backlog: its throughput in tx/s,
# and the CPU time its walsender used, in µs per transaction.
sub drain
{
	my ($gate, $end) = @_;
	return with_consumer(
		$gate, 'drain',
		"SELECT pg_copy_logical_replication_slot('backlog', 'drain')",
		sub {
			my ($start, $walsender) = @_;
			my $done = wait_sent('drain', $end);
			return ($transactions / ($done - $start),
				1e6 * cpu_seconds($walsender) / $transactions);
		});
}

# Consumer throughput while the load runs, in tx/s; and the load's tps.
sub stream
{
	my ($gate) = @_;
	return with_consumer(
		$gate, 'live',
		"SELECT pg_create_logical_replication_slot('live', 'test_decoding')",
		sub {
			my ($start) = @_;
			my ($end, $tps) = load($transactions / 4);
			my $done = wait_sent('live', $end);
			return ($transactions / 4 / ($done - $start), $tps);
		});
}

$primary->safe_psql('postgres',
	"SELECT pg_create_logical_replication_slot('backlog', 'test_decoding')");
my ($backlog_end) = load($transactions);
$primary->wait_for_catchup($standby, 'flush', $backlog_end);

my (%drained, %cpu, %streamed, %tps);
for my $round (1 .. $rounds)
{
	my @order = $round % 2 ? ('', 'standby_slot') : ('standby_slot', '');
	for my $gate (@order)
	{
		my ($drained, $cpu) = drain($gate, $backlog_end);
		push @{ $drained{$gate} }, $drained;
		push @{ $cpu{$gate} }, $cpu;
	}
	next if $round > $stream_rounds;
	for my $gate (@order)
	{
		my ($streamed, $tps) = stream($gate);
		push @{ $streamed{$gate} }, $streamed;
		push @{ $tps{$gate} }, $tps;
	}
}

my $table = '';
for my $gate ('', 'standby_slot')
{
	my @drained = @{ $drained{$gate} };
	$table .= sprintf("| %s | %.0f (%.0f–%.0f) | %.2f | %.0f | %.0f |\n",
		$gate ? 'on' : 'off',
		median(@drained), percentile(0, @drained), percentile(100, @drained),
		map { median(@{ $_->{$gate} }) } \%cpu, \%streamed, \%tps);
}

# per round, in %: what the gate takes from the throughput, adds to the CPU
my @throughput_costs = map { 100.0 * (1 - $drained{standby_slot}[$_] / $drained{''}[$_]) }
  0 .. $rounds - 1;
my @cpu_costs = map { 100.0 * ($cpu{standby_slot}[$_] / $cpu{''}[$_] - 1) }
  0 .. $rounds - 1;
my ($throughput_cost, $cpu_cost) = (median(@throughput_costs), median(@cpu_costs));
my $list = sub { join ', ', map { sprintf '%.1f', $_ } @_ };
write_result(
	'gate', 'Gate cost', qq{pg_recvlogical on a marked slot, with slot_failover.standby_slot_names off
and on (a healthy streaming standby); single-row insert transactions by
$clients pgbench clients.  Catching up: the consumer streams a backlog of
$transactions transactions, in $rounds rounds that each measure off and on back to
back: its throughput (median, and the rounds' range) and the CPU time of
its walsender, where the gate's work is done.  Streaming: it streams
while a load of @{[ $transactions / 4 ]} transactions runs, which bounds it ($stream_rounds rounds).

| gate | catching up (tx/s) | walsender CPU (µs/tx) | streaming (tx/s) | the load (pgbench tps) |
|------|------:|------:|------:|------:|
$table
The rounds' costs of the gate, in %: throughput @{[ $list->(@throughput_costs) ]};
walsender CPU @{[ $list->(@cpu_costs) ]}.  Measurements taken back to back
differ by up to 20 % either way, with the gate on or off, and the walsender's
CPU time moves with the throughput: how fast the consumer reads decides how
often the walsender waits for its socket.  The medians over the rounds are
the figures.
},
	goals => [
		[
			"gate costs ≤ $goal_percent % of the consumer's throughput (catching up)",
			sprintf('%.1f %%', $throughput_cost), $throughput_cost <= $goal_percent
		],
		[
			"gate adds ≤ $goal_percent % to the walsender's CPU time (catching up)",
			sprintf('%.1f %%', $cpu_cost), $cpu_cost <= $goal_percent
		]
	]);
ok(1, 'bench ran');
done_testing();
