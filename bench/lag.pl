# Copyright (c) 2026, slot_failover developers

# Lag from a primary slot's advance to its copy's advance on a streaming
# standby, for 1, 10 and 100 marked slots, with the default naptime.
# Not a test: run it with bench/run, which prints the figures.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $rounds = $ENV{SF_BENCH_ROUNDS} // 50;
my @counts = split /,/, ($ENV{SF_BENCH_SLOTS} // '1,10,100');

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'slot_failover'
max_replication_slots = 250
});
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE bench (i int);
-- advance every bench slot to the current position; when that was done
CREATE FUNCTION advance_all() RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE target pg_lsn;
BEGIN
	target := pg_current_wal_lsn();
	PERFORM pg_replication_slot_advance(slot_name, target)
	FROM pg_replication_slots WHERE slot_name LIKE 'bench\_%';
	RETURN clock_timestamp();
END $$;
-- on the standby: wait until n copies moved past a position; when that was
CREATE FUNCTION wait_copies(since pg_lsn, n int) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
	LOOP
		IF (SELECT count(*) FROM pg_replication_slots
			WHERE slot_name LIKE 'bench\_%' AND restart_lsn > since) >= n THEN
			RETURN clock_timestamp();
		END IF;
		PERFORM pg_sleep(0.0005);
	END LOOP;
END $$;
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

my @table;
for my $n (@counts)
{
	$primary->safe_psql(
		'postgres', qq{
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'bench\\_%';
SELECT pg_create_physical_replication_slot('bench_' || i, true) FROM generate_series(1, $n) i;
SELECT slot_failover.mark(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'bench\\_%';
SELECT advance_all();
SELECT slot_failover.sync();
});
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	$standby->poll_query_until('postgres',
		"SELECT count(*) = $n FROM slot_failover.status WHERE state = 'ready' AND slot_name LIKE 'bench\\_%'")
	  or die "copies did not become ready";

	my @lags;
	for my $round (1 .. $rounds)
	{
		my $since = $standby->safe_psql('postgres',
			"SELECT max(restart_lsn) FROM pg_replication_slots WHERE slot_name LIKE 'bench\\_%'");
		my ($out, $err) = ('', '');
		my $waiter = IPC::Run::start(
			[ 'psql', '-XAtq', '-d', $standby->connstr('postgres'),
			  '-c', "SELECT extract(epoch FROM wait_copies('$since', $n))" ],
			'>', \$out, '2>', \$err);
		$standby->poll_query_until('postgres',
			"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE 'SELECT extract(epoch FROM wait_copies%' AND state = 'active'"
		) or die "the waiter did not start";
		my $t0 = $primary->safe_psql('postgres',
			"INSERT INTO bench VALUES ($round); SELECT extract(epoch FROM advance_all())");
		$waiter->finish or die "wait_copies failed: $err";
		push @lags, ($out - $t0) * 1000.0;
	}
	@lags = sort { $a <=> $b } @lags;
	my $p = sub { $lags[ int(($_[0] / 100.0) * (@lags - 1) + 0.5) ] };
	push @table, sprintf("| %5d | %7.1f | %7.1f | %7.1f |", $n, $p->(50), $p->(99), $lags[-1]);
}

diag "lag from a primary slot's advance to its copy's advance (ms), $rounds rounds, naptime 100ms";
diag "| slots |     p50 |     p99 |     max |";
diag "|------:|--------:|--------:|--------:|";
diag $_ for @table;
ok(1, 'bench ran');
done_testing();
