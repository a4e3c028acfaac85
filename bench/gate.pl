# Copyright (c) 2026, slot_failover developers

# Cost of the walsender gate: a pgbench insert load runs while pg_recvlogical
# streams a marked slot; the consumer's throughput is measured from the
# start of the load until it has received the last transaction, with
# slot_failover.standby_slot_names off and on (healthy streaming standby).
# Not a test: run it with bench/run gate.pl.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

my $transactions = $ENV{SF_BENCH_TRANSACTIONS} // 5000;
my $clients = 4;
my $rounds = $ENV{SF_BENCH_ROUNDS} // 3;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 'logical');
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'slot_failover'\n");
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE load (id bigserial PRIMARY KEY, payload text);
SELECT pg_create_physical_replication_slot('standby_slot', true);
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', "primary_slot_name = 'standby_slot'\n");
$standby->start;

my $script = $primary->basedir . '/insert.sql';
PostgreSQL::Test::Utils::append_to_file($script,
	"INSERT INTO load (payload) VALUES (repeat('x', 100));\n");

# One measured round: transactions per second seen by the consumer.
sub round
{
	my ($gate) = @_;
	$primary->safe_psql('postgres', qq{
ALTER SYSTEM SET slot_failover.standby_slot_names = '$gate';
SELECT pg_reload_conf();
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'cdc';
SELECT pg_create_logical_replication_slot('cdc', 'test_decoding');
SELECT slot_failover.mark('cdc');
});
	my $start = time();
	my ($out, $err) = ('', '');
	my $consumer = IPC::Run::start(
		[ 'pg_recvlogical', '-d', $primary->connstr('postgres'), '-S', 'cdc',
		  '--start', '-f', '/dev/null', '-s', '1', '--no-loop' ],
		'>', \$out, '2>', \$err);
	IPC::Run::run([ 'pgbench', '-n', '-f', $script, '-c', $clients,
					'-t', $transactions / $clients, $primary->connstr('postgres') ],
		'>', \$out, '2>', \$err) or die "pgbench failed: $err";
	my $end = $primary->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	$primary->poll_query_until('postgres',
		"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'cdc'")
	  or die "consumer did not catch up";
	my $elapsed = time() - $start;
	$consumer->kill_kill;
	return $transactions / $elapsed;
}

my (@off, @on);
for (1 .. $rounds)
{
	push @off, round('');
	push @on, round('standby_slot');
}
my $median = sub { my @s = sort { $a <=> $b } @_; $s[ int(@s / 2) ] };
my ($off, $on) = ($median->(@off), $median->(@on));
diag sprintf("consumer throughput, %d transactions by %d clients, median of %d rounds",
	$transactions, $clients, $rounds);
diag sprintf("| gate | tx/s |");
diag sprintf("|------|-----:|");
diag sprintf("| off  | %.0f |", $off);
diag sprintf("| on   | %.0f |", $on);
diag sprintf("cost of the gate: %.1f%%", 100.0 * ($off - $on) / $off);
ok(1, 'bench ran');
done_testing();
