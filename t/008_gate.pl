# Copyright (c) 2026, slot_failover developers

# Logical clients of marked slots never outrun the failover standby
# (PostgreSQL 17's slot sync test, scenarios 15-17): with the standby down,
# a subscriber on a marked slot gets nothing new while one on an unmarked
# slot gets everything; the walsender says so once; the marked subscriber
# catches up when the standby is back, still on the same connection after
# waiting longer than its wal_receiver_timeout; clearing
# slot_failover.standby_slot_names releases the wait at once.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary',
	conf => "slot_failover.standby_slot_names = 'standby_slot'\n");
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE public.gated (id int PRIMARY KEY);
CREATE TABLE public.free (id int PRIMARY KEY);
CREATE PUBLICATION gated_pub FOR TABLE public.gated;
CREATE PUBLICATION free_pub FOR TABLE public.free;
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT pg_create_logical_replication_slot('gated_sub', 'pgoutput');
SELECT pg_create_logical_replication_slot('free_sub', 'pgoutput');
SELECT slot_failover.mark('gated_sub');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');

my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->append_conf('postgresql.conf', 'wal_receiver_timeout = 2s');
$subscriber->start;
my $connstr = connstr_literal($primary);
$subscriber->safe_psql(
	'postgres', qq{
CREATE TABLE public.gated (id int PRIMARY KEY);
CREATE TABLE public.free (id int PRIMARY KEY);
CREATE SUBSCRIPTION gated_sub CONNECTION $connstr PUBLICATION gated_pub
	WITH (create_slot = false, slot_name = 'gated_sub');
CREATE SUBSCRIPTION free_sub CONNECTION $connstr PUBLICATION free_pub
	WITH (create_slot = false, slot_name = 'free_sub');
});

sub counts
{
	return $subscriber->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM public.gated) || \'/\' || (SELECT count(*) FROM public.free)');
}

$primary->safe_psql('postgres',
	'INSERT INTO public.gated VALUES (1); INSERT INTO public.free VALUES (1)');
ok( $subscriber->poll_query_until('postgres',
		"SELECT (SELECT count(*) FROM public.gated) = 1 AND (SELECT count(*) FROM public.free) = 1"),
	'with the standby up, both subscriptions receive');

##########
# The standby stops: the marked slot's subscriber gets nothing new, the
# unmarked one gets everything, and the walsender warns once.
##########
my $pid = $subscriber->safe_psql('postgres',
	"SELECT pid FROM pg_stat_subscription WHERE subname = 'gated_sub'");
# measured before the standby stops: the wait may begin at once
my $log_offset = -s $primary->logfile;
$standby->stop;
$primary->safe_psql('postgres',
	'INSERT INTO public.gated SELECT generate_series(2, 10); INSERT INTO public.free SELECT generate_series(2, 10)');
ok( $subscriber->poll_query_until('postgres', 'SELECT count(*) = 10 FROM public.free'),
	'the subscriber of an unmarked slot receives everything');
$primary->wait_for_log(
	qr/WARNING:  replication slot "standby_slot" named in "slot_failover.standby_slot_names" has no standby streaming from it/,
	$log_offset);
ok( $primary->poll_query_until(
		'postgres',
		"SELECT gate_waiting AND gate_waiting_for = 'standby_slot' AND gate_lsn IS NOT NULL FROM slot_failover.status WHERE slot_name = 'gated_sub'"
	),
	'the status view shows the walsender waiting for the standby');
is(counts(), '1/10', 'the subscriber of the marked slot received nothing new');

# Wait longer than the subscriber's wal_receiver_timeout.
my $since = $primary->safe_psql('postgres',
	"SELECT gate_since FROM slot_failover.status WHERE slot_name = 'gated_sub'");
ok( $primary->poll_query_until(
		'postgres', "SELECT now() - '$since'::timestamptz > '4 s'"),
	'the gate held for twice the subscriber\'s wal_receiver_timeout');
is(counts(), '1/10', 'still nothing new');
my $log = slurp_file($primary->logfile, $log_offset);
my $warnings = () = $log =~ /has no standby streaming from it/g;
is($warnings, 1, 'the WARNING was given once');

##########
# The standby is back: the marked subscriber catches up, on the same
# connection.
##########
$standby->start;
ok( $subscriber->poll_query_until('postgres', 'SELECT count(*) = 10 FROM public.gated'),
	'the subscriber of the marked slot catches up once the standby is back');
is( $subscriber->safe_psql(
		'postgres', "SELECT pid FROM pg_stat_subscription WHERE subname = 'gated_sub'"),
	$pid,
	'on the same connection: keepalives kept it alive while gated');
is( $primary->safe_psql(
		'postgres', "SELECT gate_waiting FROM slot_failover.status WHERE slot_name = 'gated_sub'"),
	'f',
	'and the walsender no longer waits');

##########
# Clearing the setting releases a waiting walsender at once.
##########
$standby->stop;
$primary->safe_psql('postgres', 'INSERT INTO public.gated SELECT generate_series(11, 20)');
ok( $primary->poll_query_until(
		'postgres', "SELECT gate_waiting FROM slot_failover.status WHERE slot_name = 'gated_sub'"),
	'the walsender waits again');
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET slot_failover.standby_slot_names = ''; SELECT pg_reload_conf()");
ok( $subscriber->poll_query_until('postgres', 'SELECT count(*) = 20 FROM public.gated'),
	'clearing standby_slot_names releases it without the standby');

##########
# A fast shutdown with a walsender waiting for a standby that is down
# completes: the walsender exits without sending what it holds.
##########
$primary->safe_psql('postgres', q{
ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot';
SELECT pg_reload_conf();
});
$primary->safe_psql('postgres', 'INSERT INTO public.gated VALUES (21)');
ok( $primary->poll_query_until(
		'postgres', "SELECT gate_waiting FROM slot_failover.status WHERE slot_name = 'gated_sub'"),
	'the walsender waits for the stopped standby');
$log_offset = -s $primary->logfile;
$primary->stop;
like(slurp_file($primary->logfile, $log_offset),
	qr/terminating walsender of replication slot "gated_sub" because the server is shutting down/,
	'a fast shutdown completes: the waiting walsender exits');
is($subscriber->safe_psql('postgres', 'SELECT count(*) FROM public.gated'),
	'20', 'without sending what the standby does not have');

$subscriber->stop;
done_testing();
