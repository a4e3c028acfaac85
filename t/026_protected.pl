# Copyright (c) 2026, slot_failover developers

# Copies are never left to clients: while the standby's worker is away
# (terminated, waiting to be started again), a client can neither drop,
# advance nor stream from a copy; the next worker holds them again.  And
# replay of DROP DATABASE does not wait for a worker that sleeps (a
# naptime of an hour; log_recovery_conflict_waits reports a wait longer
# than deadlock_timeout, 20 ms), nor stop on a copy of that database
# while no worker runs.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', standby_slot => 1);
$primary->safe_psql('postgres', 'CREATE DATABASE doomed');
$primary->safe_psql('doomed',
	"SELECT pg_create_logical_replication_slot('doomed_slot', 'test_decoding')");
$primary->safe_psql(
	'postgres', q{
SELECT slot_failover.mark('standby_slot');
SELECT pg_create_physical_replication_slot('physical', true);
SELECT pg_create_logical_replication_slot('logical', 'test_decoding');
SELECT slot_failover.mark('physical');
SELECT slot_failover.mark('logical');
SELECT slot_failover.mark('doomed_slot');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby',
	slot => 'standby_slot',
	conf => "log_recovery_conflict_waits = on\ndeadlock_timeout = '20ms'\n");
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
sync_standby($primary, $standby);
ok( make_copy_ready(
		$primary, $standby, [ 'physical', 'logical' ], replay => 1),
	'the copies are ready');
wait_for_copy_state($standby, 'doomed_slot', [ 'waiting', 'ready' ]);

# Terminate the worker; until the launcher starts the next one, about
# five seconds, the copies are still held.
sub stop_worker
{
	$standby->safe_psql('postgres',
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'slot_failover worker'"
	);
	$standby->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'slot_failover worker'"
	) or die 'the worker did not exit';
}

stop_worker();
my ($ret, $stdout, $stderr);
for my $call (
	"pg_drop_replication_slot('physical')",
	"pg_drop_replication_slot('logical')",
	"pg_replication_slot_advance('physical', pg_last_wal_replay_lsn())")
{
	($ret, $stdout, $stderr) = $standby->psql('postgres', "SELECT $call");
	like(
		$stderr,
		qr/replication slot "\w+" is active for PID \d+\nHINT:  The slot is a copy kept by slot_failover/,
		"without a worker, $call fails");
}
IPC::Run::run(
	[
		'pg_receivewal', '--no-loop', '-S', 'physical',
		'-D', PostgreSQL::Test::Utils::tempdir(),
		'-d', $standby->connstr('postgres')
	],
	'>', \$stdout, '2>', \$stderr);
like($stderr, qr/replication slot "physical" is active for PID/,
	'and so does streaming from the physical copy');
is( $standby->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slot_failover worker'"),
	'0',
	'all that while no worker ran');

ok( $standby->poll_query_until(
		'postgres', q{
SELECT count(*) = 3 FROM pg_replication_slots s
	JOIN pg_stat_activity a ON a.pid = s.active_pid
WHERE a.backend_type = 'slot_failover worker'}),
	'the next worker holds the copies');
ok(wait_for_copy_state($standby, [ 'physical', 'logical' ], 'ready'),
	'and they are still ready');

##########
# DROP DATABASE: replayed at once, though the worker sleeps for an hour
# holding the copy in that database, and also while no worker runs.
##########
$primary->safe_psql('postgres', 'CREATE DATABASE doomed2');
$primary->safe_psql('doomed2',
	"SELECT pg_create_logical_replication_slot('doomed2_slot', 'test_decoding')");
$primary->safe_psql('postgres', "SELECT slot_failover.mark('doomed2_slot')");
sync_standby($primary, $standby);
wait_for_copy_state($standby, 'doomed2_slot', [ 'waiting', 'ready' ]);

# both workers nap for an hour: the rows stay, the standby's worker sleeps
for my $node ($primary, $standby)
{
	$node->safe_psql('postgres', "ALTER SYSTEM SET slot_failover.naptime = '1h'");
	$node->reload;
	$node->safe_psql('postgres', 'SELECT slot_failover.sync()');
}

my $offset = -s $standby->logfile;
$primary->safe_psql('postgres', "SELECT pg_drop_replication_slot('doomed_slot')");
$primary->safe_psql('postgres', 'DROP DATABASE doomed');
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (2)');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $log = slurp_file($standby->logfile, $offset);
unlike($log, qr/recovery still waiting/,
	'replay of DROP DATABASE waits less than 20 ms for the sleeping worker');
like(
	$log,
	qr/letting go of copies of replication slots in database with OID \d+, which replay is about to drop/,
	'the worker let go of the copy');
is( $standby->safe_psql(
		'postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'doomed_slot'"),
	'0', 'the copy is gone with its database');

stop_worker();
$primary->safe_psql('postgres', "SELECT pg_drop_replication_slot('doomed2_slot')");
$primary->safe_psql('postgres', 'DROP DATABASE doomed2');
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (3)');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', 'SELECT count(*) FROM public.t'),
	'3', 'without a worker, the standby replays past DROP DATABASE');
is( $standby->safe_psql(
		'postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'doomed2_slot'"),
	'0', 'and the copy is gone with its database');
ok( $standby->poll_query_until(
		'postgres', q{
SELECT count(*) = 2 FROM pg_replication_slots s
	JOIN pg_stat_activity a ON a.pid = s.active_pid
WHERE a.backend_type = 'slot_failover worker'}),
	'the next worker holds the other copies');

done_testing();
