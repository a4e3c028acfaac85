# Copyright (c) 2026, slot_failover developers

# Cost of the walsender gate for a pg_recvlogical consumer of a marked slot,
# with slot_failover.standby_slot_names off and on (naming the slot of a
# healthy streaming standby).  The load is single-row inserts by 4 pgbench
# clients.
#   - catching up: a load of SF_BENCH_TRANSACTIONS (default 200,000) runs
#     once, with no consumer; each measurement copies its slot, marks the
#     copy, and times a consumer streaming the whole backlog from its
#     start.  The consumer is the bottleneck, and every measurement does the
#     same work: this is the goal's figure.
#   - streaming: the consumer streams while a load of a quarter as many
#     transactions runs; timed from the start of the load.  This shows
#     whether the consumer keeps up; the load's own rate bounds it.
# Either ends when the walsender has sent the last transaction
# (pg_stat_replication.sent_lsn, which the gate holds back), polled every
# millisecond on the server.  Medians of SF_BENCH_GATE_ROUNDS rounds
# (default 5); each round measures off and on, in alternating order.
# Not a test: run it with bench/run gate.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverBench;

my $transactions = $ENV{SF_BENCH_TRANSACTIONS} // 200000;
my $rounds = $ENV{SF_BENCH_GATE_ROUNDS} // 5;
my $clients = 4;
my $goal_percent = 5;

my $primary = new_primary('primary');
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
		PERFORM pg_sleep(0.001);
	END LOOP;
END $$;
});
my $standby = new_standby($primary, 'standby', slot => 'standby_slot');

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

# Consumer throughput over the backlog of slot backlog, in tx/s.
sub drain
{
	my ($gate, $end) = @_;
	set_gate($gate);
	$primary->safe_psql('postgres', q{
SELECT pg_copy_logical_replication_slot('backlog', 'drain');
SELECT slot_failover.mark('drain');
});
	my $start = time;
	my $consumer = start_consumer($primary, 'drain');
	my $done = wait_sent('drain', $end);
	$consumer->kill_kill;
	$primary->safe_psql('postgres', "SELECT pg_drop_replication_slot('drain')");
	return $transactions / ($done - $start);
}

# Consumer throughput while the load runs, in tx/s; and the load's tps.
sub stream
{
	my ($gate) = @_;
	set_gate($gate);
	$primary->safe_psql('postgres', q{
SELECT pg_create_logical_replication_slot('live', 'test_decoding');
SELECT slot_failover.mark('live');
});
	my $start = time;
	my $consumer = start_consumer($primary, 'live');
	my ($end, $tps) = load($transactions / 4);
	my $done = wait_sent('live', $end);
	$consumer->kill_kill;
	$primary->safe_psql('postgres', "SELECT pg_drop_replication_slot('live')");
	return ($transactions / 4 / ($done - $start), $tps);
}

$primary->safe_psql('postgres',
	"SELECT pg_create_logical_replication_slot('backlog', 'test_decoding')");
my ($backlog_end) = load($transactions);
$primary->wait_for_catchup($standby, 'flush', $backlog_end);

my (%drained, %streamed, %tps);
for my $round (1 .. $rounds)
{
	my @order = $round % 2 ? ('', 'standby_slot') : ('standby_slot', '');
	push @{ $drained{$_} }, drain($_, $backlog_end) for @order;
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
	$table .= sprintf("| %s | %.0f | %.0f | %.0f |\n", $gate ? 'on' : 'off',
		map { median(@{ $_->{$gate} }) } \%drained, \%streamed, \%tps);
}
my ($off, $on) = map { median(@{ $drained{$_} }) } ('', 'standby_slot');
my $cost = 100.0 * ($off - $on) / $off;
write_result(
	'gate', 'Gate cost', qq{Transactions per second received by pg_recvlogical on a marked slot, with
slot_failover.standby_slot_names off and on (a healthy streaming standby);
single-row insert transactions by $clients pgbench clients; medians of $rounds rounds.
Catching up: the consumer streams a backlog of $transactions transactions.
Streaming: it streams while a load of @{[ $transactions / 4 ]} transactions runs, which
bounds it.

| gate | catching up | streaming | the load (pgbench) |
|------|------:|------:|------:|
$table},
	goals => [
		[
			"gate costs ≤ $goal_percent % of the consumer's throughput (catching up)",
			sprintf('%.1f %%', $cost), $cost <= $goal_percent
		]
	]);
ok(1, 'bench ran');
done_testing();
