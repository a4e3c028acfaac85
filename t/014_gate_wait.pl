# Copyright (c) 2026, slot_failover developers

# The gate waits as PostgreSQL 17 does: a lagging standby never makes a
# gated walsender exit; its memory stays flat during a long wait (which
# also answers pg_log_backend_memory_contexts); a reload re-reads
# synchronous_standby_names for it; fast and smart shutdowns are not held
# up by it even with wal_sender_timeout = 0; immediate shutdown and crash
# restart still work; during a smart shutdown it keeps streaming, gated,
# until the last client session ends.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', conf => "wal_sender_timeout = 2s\nrestart_after_crash = on\n");
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE public.t (id int);
CREATE TABLE public.busy (id int);
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT pg_create_logical_replication_slot('gated', 'test_decoding');
SELECT slot_failover.mark('gated');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot'; SELECT pg_reload_conf()");

# pg_recvlogical on the marked slot, answering every second.
sub start_client
{
	return IPC::Run::start(
		[ 'pg_recvlogical', '-d', $primary->connstr('postgres'), '-S', 'gated',
		  '--start', '-f', '/dev/null', '-F', '0', '-s', '1', '--no-loop' ]);
}

# The pid of the walsender of the marked slot, once it waits.
sub waiting_walsender
{
	$primary->poll_query_until('postgres',
		"SELECT gate_waiting FROM slot_failover.status WHERE slot_name = 'gated'")
	  or die 'the walsender does not wait';
	return $primary->safe_psql('postgres',
		"SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'gated'");
}

# The walsender's memory, as pg_log_backend_memory_contexts logs it.
sub grand_total
{
	my ($pid) = @_;
	my $offset = -s $primary->logfile;
	$primary->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	$primary->wait_for_log(qr/\[$pid\].*Grand total: \d+ bytes/, $offset);
	my ($total) = slurp_file($primary->logfile, $offset) =~ /\[$pid\].*Grand total: (\d+) bytes/;
	return $total;
}

# The client confirms a first transaction (pg_stat_replication shows no
# sync_priority for a client that never confirmed), then the standby stops.
my $client = start_client();
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (0)');
my $lsn = $primary->lsn('insert');
$primary->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'gated'")
  or die 'the client confirmed nothing';
$standby->stop;
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
my $pid = waiting_walsender();

##########
# A lagging standby does not make the walsender exit, however long it
# lags behind wal_sender_timeout; its memory stays flat meanwhile, under
# a busy primary.
##########
my $script = $primary->basedir . '/busy.sql';
append_to_file($script, "INSERT INTO public.busy VALUES (1);\n");
my $busy = IPC::Run::start(
	[ 'pgbench', '-n', '-f', $script, '-c', '1', '-T', '65', $primary->connstr('postgres') ],
	'>', '/dev/null', '2>', '/dev/null');
my $since = $primary->safe_psql('postgres',
	"SELECT gate_since FROM slot_failover.status WHERE slot_name = 'gated'");
$primary->poll_query_until('postgres', "SELECT now() - '$since'::timestamptz > '3 s'");
my $before = grand_total($pid);
ok( $primary->poll_query_until(
		'postgres', "SELECT now() - '$since'::timestamptz > '63 s'", 't'),
	'the walsender waited a minute');
my $after = grand_total($pid);
$busy->finish;
is( $primary->safe_psql(
		'postgres', "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'gated'"),
	$pid,
	'the same walsender still waits, 30 times its wal_sender_timeout later');
ok($after <= $before, "its memory did not grow ($before bytes, then $after)");

##########
# A reload reaches the waiting walsender's synchronous replication state.
##########
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET synchronous_standby_names = '*'; SELECT pg_reload_conf()");
ok( $primary->poll_query_until(
		'postgres', "SELECT sync_priority = 1 FROM pg_stat_replication WHERE pid = $pid"),
	'a reload re-reads synchronous_standby_names for it');
$primary->safe_psql('postgres',
	"ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf()");

##########
# Shutdowns are not held up, with wal_sender_timeout = 0.
##########
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET wal_sender_timeout = 0; SELECT pg_reload_conf()");
foreach my $mode ('fast', 'smart')
{
	local $ENV{PGCTLTIMEOUT} = 60;
	my $offset = -s $primary->logfile;
	my $start = time;
	$primary->stop($mode);
	ok(time - $start < 60, "a $mode shutdown completes while the walsender waits");
	like(
		slurp_file($primary->logfile, $offset),
		qr/terminating walsender of replication slot "gated" because the server is shutting down/,
		'the walsender said why it exits');
	$client->finish;
	$primary->start;
	$client = start_client();
	$pid = waiting_walsender();
}

##########
# A crash restart clears the request: the walsender waits again, and does
# not exit.  An immediate shutdown works.
##########
my $backend = $primary->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'slot_failover worker'");
my $offset = -s $primary->logfile;
kill 'KILL', $backend;
$primary->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
$primary->wait_for_log(qr/database system is ready to accept connections/, $offset);
$client->finish;
$client = start_client();
$pid = waiting_walsender();
$offset = -s $primary->logfile;
$primary->safe_psql('postgres', 'SELECT pg_reload_conf()');
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (2)');
is( $primary->safe_psql(
		'postgres', "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'gated'"),
	$pid, 'after a crash restart the walsender waits, and does not exit');
ok(!$primary->log_contains('because the server is shutting down', $offset),
	'nor says it would');
$primary->stop('immediate');
$client->finish;
ok(1, 'an immediate shutdown works');

##########
# A smart shutdown lets clients work until they disconnect: while a
# session stays open, the gated walsender goes on streaming its rows (the
# standby up); once the session ends, the shutdown completes.
##########
$primary->start;
$standby->start;
$client = start_client();
my $session = $primary->background_psql('postgres');

# Wait inside the open session (a smart shutdown refuses new connections)
# until the client has confirmed the session's last insert; true if it did.
sub client_confirms_session_insert
{
	my ($id) = @_;
	my $result = eval {
		$session->query_safe(
			qq{INSERT INTO public.t VALUES ($id);
DO \$\$
DECLARE
	target pg_lsn := pg_catalog.pg_current_wal_insert_lsn();
	deadline timestamptz := pg_catalog.clock_timestamp()
		OPERATOR(pg_catalog.+) interval '$PostgreSQL::Test::Utils::timeout_default s';
BEGIN
	WHILE NOT (SELECT confirmed_flush_lsn OPERATOR(pg_catalog.>=) target
			   FROM pg_catalog.pg_replication_slots WHERE slot_name = 'gated') LOOP
		IF pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>) deadline THEN
			RAISE EXCEPTION 'the client did not confirm %', target;
		END IF;
		PERFORM pg_catalog.pg_sleep(0.05);
	END LOOP;
END
\$\$;
SELECT 'confirmed';});
	};
	return defined $result && $result eq 'confirmed';
}

ok(client_confirms_session_insert(20), 'before the shutdown, the gated client gets the rows');
$offset = -s $primary->logfile;
IPC::Run::run([ 'pg_ctl', '-D', $primary->data_dir, '-m', 'smart', '-W', 'stop' ])
  or die 'pg_ctl stop -m smart failed';
$primary->wait_for_log(qr/received smart shutdown request/, $offset);
ok(client_confirms_session_insert(21),
	'during a smart shutdown, the gated client still gets the rows of an open session');
unlike(
	slurp_file($primary->logfile, $offset),
	qr/terminating walsender of replication slot "gated"/,
	'and its walsender did not exit');
$session->quit;
$primary->wait_for_log(qr/database system is shut down/, $offset);
ok(1, 'once the session ended, the smart shutdown completed');
$primary->stop('smart', fail_ok => 1);
$client->finish;

done_testing();
