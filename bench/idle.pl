# Copyright (c) 2026, slot_failover developers

# Cost of the workers on an idle primary and its standby, with 100 marked
# slots: 97 idle physical slots, the standby's own slot (streaming, with
# hot_standby_feedback) and two logical slots streamed by pg_recvlogical,
# whose copies on the standby are ready.  Once everything has settled, the
# bench watches both nodes for SF_BENCH_IDLE_SECONDS (default 60) and
# reports per minute: the WAL bytes and transactions of slot_failover on the
# primary (pg_waldump: records touching its table and the rest of their
# transactions), the worker's CPU time on each node (/proc/<pid>/stat), its
# cycles and rows written, and all WAL the primary wrote, for context.
# Not a test: run it with bench/run idle.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin, "$FindBin::RealBin/../t";
use SlotFailoverTest;
use SlotFailoverBench;

my $seconds = $ENV{SF_BENCH_IDLE_SECONDS} // 60;
my @consumers = ('cdc_1', 'cdc_2');

my $primary = new_primary('primary', bench_settings(max_slots => 120));
$primary->safe_psql(
	'postgres', q{
CREATE TABLE bench (i int);
SELECT pg_create_physical_replication_slot('standby_slot', true);
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');
mark_new_slots($primary, 'idle', 1, 97);
$primary->safe_psql('postgres', "SELECT slot_failover.mark('standby_slot')");
for my $slot (@consumers)
{
	$primary->safe_psql('postgres',
		"SELECT pg_create_logical_replication_slot('$slot', 'test_decoding')");
	$primary->safe_psql('postgres', "SELECT slot_failover.mark('$slot')");
}

my @recvlogical = map { start_consumer($primary, $_) } @consumers;

# Wait until the consumers have confirmed, and the standby replayed,
# everything written so far.
sub settle
{
	my $lsn = $primary->lsn('insert');
	$primary->poll_query_until('postgres',
		"SELECT bool_and(confirmed_flush_lsn >= '$lsn') FROM pg_replication_slots WHERE slot_name LIKE 'cdc\\_%'"
	) or die "pg_recvlogical did not confirm $lsn";
	$primary->wait_for_catchup($standby, 'replay', $lsn);
	return;
}

# Some traffic, with a checkpoint that serializes a decoding snapshot, makes
# the consumers move their slots past what the standby's copies reserved;
# the standby then makes them ready (all but its own upstream slot).
$primary->safe_psql('postgres', 'INSERT INTO bench VALUES (1); CHECKPOINT');
$primary->safe_psql('postgres',
	"SELECT pg_replication_slot_advance(slot_name, pg_current_wal_lsn()) FROM pg_replication_slots WHERE slot_name LIKE 'idle\\_%'"
);
settle();
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
settle();
wait_for_copy_state($standby, [ (map { "idle_$_" } 1 .. 97), @consumers ], 'ready');

# Nothing in the window may be left for PostgreSQL to clean up later, and
# the table must hold every slot's state exactly.
$primary->safe_psql('postgres', 'VACUUM');
$primary->safe_psql('postgres', 'CHECKPOINT');
settle();
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
settle();

# The worker's pid, cycles, rows written and CPU seconds on $node.
sub worker_state
{
	my ($node) = @_;
	my ($pid, $cycles, $rows) = split /\|/, $node->safe_psql('postgres',
		'SELECT pid, cycles, rows_written FROM slot_failover.worker');
	return [ $pid, $cycles, $rows, cpu_seconds($pid) ];
}

my %start = map { $_->name => worker_state($_) } $primary, $standby;
my $window = wal_window_start($primary);
my $t0 = time;
sleep $seconds;
my %end = map { $_->name => worker_state($_) } $primary, $standby;
my $per_minute = 60.0 / (time - $t0);
my $wal = wal_window_end($primary, $window);

my $table = '';
for my $node ($primary, $standby)
{
	my ($pid0, $cycles0, $rows0, $cpu0) = @{ $start{ $node->name } };
	my ($pid, $cycles, $rows, $cpu) = @{ $end{ $node->name } };
	die $node->name . ": the worker restarted during the window" unless $pid == $pid0;
	my $is_primary = $node == $primary;
	$table .= sprintf(
		"| %s | %s | %s | %.3f | %.0f | %.0f | %s |\n",
		$node->name,
		$is_primary ? sprintf('%.0f', $wal->{bytes} * $per_minute) : '0 ¹',
		$is_primary ? sprintf('%.0f', $wal->{transactions} * $per_minute) : '0 ¹',
		($cpu - $cpu0) * $per_minute,
		($cycles - $cycles0) * $per_minute,
		($rows - $rows0) * $per_minute,
		$is_primary ? sprintf('%.0f', $wal->{total} * $per_minute) : '—');
}

$_->kill_kill for @recvlogical;

write_result(
	'idle', 'Idle cost', qq{Per minute, watched for $seconds s, on an idle primary and its standby with
100 marked slots (97 idle physical slots, the standby's own slot, two
logical slots streamed by pg_recvlogical); naptime 100 ms (default).
"All WAL" is everything the primary wrote in the window, slot_failover's
and PostgreSQL's own.

| node | slot_failover WAL (bytes) | slot_failover transactions | worker CPU (s) | cycles | rows written | all WAL (bytes) |
|------|------:|------:|------:|------:|------:|------:|
$table
¹ A standby cannot write WAL or start a transaction with an xid; its worker
only reads the replayed table and keeps the copies.
},
	goals => [
		[ 'no WAL from slot_failover on an idle primary', "$wal->{bytes} bytes in $seconds s", $wal->{bytes} == 0 ],
		[
			'no transaction from slot_failover on an idle primary',
			"$wal->{transactions} in $seconds s", $wal->{transactions} == 0
		]
	]);
ok(1, 'bench ran');
done_testing();
