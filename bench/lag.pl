# Copyright (c) 2026, slot_failover developers

# Lag from a primary slot's advance to its copy's advance on a streaming
# standby, for 1, 10, 100 and 1,000 marked physical slots, with the default
# naptime.  Each round writes a row on the primary and advances every marked
# slot to the current position; a session on the standby, started before,
# polls every millisecond until every copy has moved and reports when.  Both
# clocks are the same machine's.  The lag is that time minus the moment the
# last slot was advanced; a round's figure covers all its slots.
# Both workers wake every naptime, so rounds that follow each other at a
# steady pace would meet them at the same phase every time.  Each round
# therefore restarts the primary's worker with sync(), waits a random part
# of a naptime, restarts the standby's, and waits again before it advances
# the slots: the rounds sample every phase, as unrelated clients would.
# Environment: SF_BENCH_ROUNDS (default 50), SF_BENCH_SLOTS (1,10,100,1000).
# Not a test: run it with bench/run lag.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(sleep);
use FindBin;
use lib $FindBin::RealBin, "$FindBin::RealBin/../t";
use SlotFailoverTest;
use SlotFailoverBench;

my $rounds = $ENV{SF_BENCH_ROUNDS} // 50;
my @counts = split /,/, ($ENV{SF_BENCH_SLOTS} // '1,10,100,1000');
my $max_slots = $counts[-1] + 20;
my $naptime = 0.1;    # seconds; the default

my $primary = new_primary('primary', bench_settings(max_slots => $max_slots));
$primary->safe_psql(
	'postgres', q{
CREATE TABLE bench (i int);
-- advance every marked slot to the current position; when that was done
CREATE FUNCTION advance_all() RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE target pg_lsn;
BEGIN
	target := pg_current_wal_lsn();
	PERFORM pg_replication_slot_advance(slot_name, target)
	FROM pg_replication_slots WHERE slot_name LIKE 'lag\_%';
	RETURN clock_timestamp();
END $$;
-- on the standby: wait until n copies moved past a position; when that was
-- (a procedure that commits between looks holds no snapshot, which replay
-- of the primary's pruning would otherwise cancel)
CREATE PROCEDURE wait_copies(since pg_lsn, n int, INOUT done float8 DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
	LOOP
		IF (SELECT count(*) FROM pg_replication_slots
			WHERE slot_name LIKE 'lag\_%' AND restart_lsn > since) >= n THEN
			done := extract(epoch FROM clock_timestamp());
			RETURN;
		END IF;
		COMMIT;
		PERFORM pg_sleep(0.001);
	END LOOP;
END $$;
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby');

my ($table, $tsv, $marked) = ('', '', 0);
for my $n (@counts)
{
	mark_new_slots($primary, 'lag', $marked + 1, $n);
	$marked = $n;
	make_copy_ready($primary, $standby, [ map { "lag_$_" } 1 .. $n ], replay => 1);

	my @lags;
	for my $round (1 .. $rounds)
	{
		my $since = $standby->safe_psql('postgres',
			"SELECT max(restart_lsn) FROM pg_replication_slots WHERE slot_name LIKE 'lag\\_%'");
		my ($out, $err) = ('', '');
		my $waiter = IPC::Run::start(
			[
				'psql', '-XAtq', '-d', $standby->connstr('postgres'),
				'-c', "CALL wait_copies('$since', $n)"
			],
			'>', \$out, '2>', \$err);
		$standby->poll_query_until('postgres',
			"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE 'CALL wait_copies%' AND state = 'active'"
		) or die "the waiter did not start";
		$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
		sleep(rand($naptime));
		$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');
		sleep(rand($naptime));
		my $t0 = $primary->safe_psql('postgres',
			"INSERT INTO bench VALUES ($round); SELECT extract(epoch FROM advance_all())");
		$waiter->finish or die "wait_copies failed: $err";
		push @lags, ($out - $t0) * 1000.0;
	}
	my @p = (percentile(50, @lags), percentile(99, @lags), percentile(100, @lags));
	$table .= sprintf("| %d | %.1f | %.1f | %.1f |\n", $n, @p);
	$tsv .= join("\t", $n, map { sprintf '%.1f', $_ } @p) . "\n";
}

my $note = $rounds < 100 ? "\nWith fewer than 100 rounds, p99 is the largest." : '';
write_result(
	'lag', 'Lag: primary slot advance to standby copy advance', qq{Time from advancing every marked slot on the primary until every copy on
the standby has moved, in ms; $rounds rounds per row, each at a random phase of
both workers' naptime (100 ms, the default).$note

| slots | p50 | p99 | max |
|------:|----:|----:|----:|
$table},
	tsv => "# slots\tp50\tp99\tmax\n$tsv");
ok(1, 'bench ran');
done_testing();
