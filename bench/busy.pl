# Copyright (c) 2026, slot_failover developers

# WAL that slot_failover writes on a busy primary, against the workload's
# own: 10 marked logical slots (test_decoding), each streamed by a
# pg_recvlogical into /dev/null that confirms every second, and a streaming
# standby, while pgbench's built-in TPC-B-like load (scale 5, 4 clients)
# runs for SF_BENCH_BUSY_SECONDS (default 60).  Over the pgbench run,
# pg_waldump attributes to slot_failover every record that touches its
# table and the rest of those transactions; everything else in the window
# is the workload's.
# Not a test: run it with bench/run busy.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin, "$FindBin::RealBin/../t";
use SlotFailoverTest;
use SlotFailoverBench;

my $seconds = $ENV{SF_BENCH_BUSY_SECONDS} // 60;
my $clients = 4;
my $scale = 5;
my $goal_percent = 2;
my @consumers = map { "cdc_$_" } 1 .. 10;

my $primary = new_primary('primary', bench_settings(max_slots => 30));
$primary->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('standby_slot', true)");
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');
my ($out, $err) = ('', '');
IPC::Run::run([ 'pgbench', '-i', '-q', '-s', $scale, $primary->connstr('postgres') ],
	'>', \$out, '2>', \$err)
  or die "pgbench -i failed: $err";

# the slots start after the initial load: the consumers stream only the run
for my $slot (@consumers)
{
	$primary->safe_psql('postgres',
		"SELECT pg_create_logical_replication_slot('$slot', 'test_decoding')");
	$primary->safe_psql('postgres', "SELECT slot_failover.mark('$slot')");
}
my @recvlogical = map { start_consumer($primary, $_) } @consumers;
my $lsn = $primary->lsn('insert');
$primary->poll_query_until('postgres',
	"SELECT bool_and(confirmed_flush_lsn >= '$lsn') FROM pg_replication_slots WHERE slot_name LIKE 'cdc\\_%'"
) or die "pg_recvlogical did not start streaming";
$primary->wait_for_catchup($standby, 'replay', $lsn);

my $worker = 'SELECT cycles, rows_written FROM slot_failover.worker';
my ($cycles0, $rows0) = split /\|/, $primary->safe_psql('postgres', $worker);
my $window = wal_window_start($primary);
IPC::Run::run(
	[
		'pgbench', '-n', '-c', $clients, '-j', 2, '-T', $seconds,
		$primary->connstr('postgres')
	],
	'>', \$out, '2>', \$err) or die "pgbench failed: $err";
my ($cycles1, $rows1) = split /\|/, $primary->safe_psql('postgres', $worker);
my $wal = wal_window_end($primary, $window);
my ($tps) = $out =~ /^tps = ([\d.]+)/m or die "no tps in pgbench's output: $out";
$_->kill_kill for @recvlogical;

my $workload = $wal->{total} - $wal->{bytes};
my $share = 100.0 * $wal->{bytes} / $workload;
my $rows = $rows1 - $rows0 or die "the worker wrote no row";
my $cycles = $cycles1 - $cycles0;
# if every slot's row were written in every cycle
my $every_cycle = 100.0 * $wal->{bytes} / $rows * @consumers * $cycles / $workload;
write_result(
	'busy', 'Busy cost', sprintf(
		q{WAL written by slot_failover while pgbench (TPC-B-like, scale %d, %d clients)
ran for %d s on a primary with 10 marked logical slots, each streamed by
pg_recvlogical (confirming every second), and a streaming standby; naptime
100 ms (default).  Share: slot_failover's WAL against the workload's.

| pgbench tps | workload WAL | slot_failover WAL | slot_failover transactions | worker cycles | rows written | share |
|------:|------:|------:|------:|------:|------:|------:|
| %.0f | %.1f MB | %.0f kB | %d | %d | %d | %.2f %% |

A row written cost %.0f bytes of WAL on average.  Consumers that confirm
at least once per naptime (a PostgreSQL subscription under steady load
reports its position after each batch it applies) would have every
slot's row written in every cycle: by estimate, %.1f %% of this
workload's WAL.
}, $scale, $clients, $seconds, $tps, $workload / 1e6,
		$wal->{bytes} / 1e3, $wal->{transactions}, $cycles, $rows, $share,
		$wal->{bytes} / $rows, $every_cycle),
	goals => [
		[
			"slot_failover's WAL ≤ $goal_percent % of the workload's",
			sprintf('%.2f %%', $share), $share <= $goal_percent
		]
	]);
ok(1, 'bench ran');
done_testing();
