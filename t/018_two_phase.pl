# Copyright (c) 2026, slot_failover developers

# A subscription with two_phase = on, on a marked slot: its apply worker
# enables two_phase on the slot after marking.  The table records
# two_phase and two_phase_at, and the standby's copy takes them.  A
# transaction prepared before a kill -9 failover, and committed prepared
# on the promoted standby, reaches the subscriber exactly once with no
# apply error: decoding the COMMIT PREPARED from the copy must know that the
# slot decodes two-phase (the subscription does not ask again) and, from
# two_phase_at, that the subscriber already had the PREPARE.  Until the
# row records two_phase, the gate sends the subscriber nothing: a PREPARE
# it received then would, after a failover, come again as a whole
# transaction at its COMMIT PREPARED.  The primary's worker records only
# when sync() asks here (its naptime is an hour), so that this wait shows.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->append_conf('postgresql.conf', 'max_prepared_transactions = 10');
$subscriber->start;

my $primary = new_primary(
	'primary',
	naptime => '1h',
	conf => 'max_prepared_transactions = 10');
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE public.t (id int PRIMARY KEY);
CREATE PUBLICATION pub FOR TABLE public.t;
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT pg_create_logical_replication_slot('sub', 'pgoutput');
SELECT slot_failover.mark('sub');
});
$primary->backup('backup');
my $standby = new_standby(
	$primary, 'backup', 'standby',
	slot => 'standby_slot',
	conf => 'slot_failover.naptime = 50ms');

# Only the primary gates on its standby (see t/009).
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot'; SELECT pg_reload_conf()");

$subscriber->safe_psql('postgres', 'CREATE TABLE public.t (id int PRIMARY KEY)');
$subscriber->safe_psql('postgres',
	'CREATE SUBSCRIPTION sub CONNECTION ' . connstr_literal($primary)
	  . " PUBLICATION pub WITH (create_slot = false, slot_name = 'sub', two_phase = on)");

##########
# The apply worker enables two_phase on the marked slot; its walsender
# sends nothing until the table records it, then the standby's copy is
# ready with it.
##########
$primary->poll_query_until('postgres',
	"SELECT two_phase FROM pg_replication_slots WHERE slot_name = 'sub'")
  or die 'the subscription did not enable two_phase';
$primary->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(1, 100); CHECKPOINT');
ok( $primary->poll_query_until(
		'postgres', q{
SELECT gate_waiting AND gate_waiting_for IS NULL
FROM slot_failover.status WHERE slot_name = 'sub'}),
	'the walsender waits for the row to record two_phase');
is($subscriber->safe_psql('postgres', 'SELECT count(*) FROM public.t'),
	'0', 'meanwhile the subscriber got nothing');

# A fast shutdown does not wait for the row: the worker stops too.
my $primary_log = -s $primary->logfile;
$primary->stop('fast');
like(
	substr(slurp_file($primary->logfile), $primary_log),
	qr/does not record its two_phase yet/,
	'a fast shutdown ends the wait; the walsender says why');
# (the worker's first cycle after the start records two_phase)
$primary->start;
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
$subscriber->poll_query_until('postgres', 'SELECT count(*) = 100 FROM public.t')
  or die 'the subscription did not start';
$primary->safe_psql('postgres', 'CHECKPOINT');

my $sync_lsn = $primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
is( $primary->safe_psql('postgres',
		"SELECT two_phase AND two_phase_at IS NOT NULL FROM slot_failover.slots WHERE slot_name = 'sub'"),
	't',
	'the primary records two_phase and two_phase_at')
  or die 'without them no copy can have two_phase';

$primary->wait_for_catchup($standby, 'replay', $sync_lsn);
ok( wait_for_copy_state(
		$standby, 'sub', 'ready',
		also => 'slot_name IN (SELECT slot_name FROM pg_replication_slots WHERE two_phase)'),
	'the copy is ready, with two_phase');

##########
# PREPARE on the primary; the subscriber has the prepared transaction, and
# the standby has replayed the row that records the subscriber's position.
##########
$primary->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO public.t SELECT generate_series(101, 110);
PREPARE TRANSACTION 'tx';
});
my $prepare_lsn = $primary->lsn('insert');
$subscriber->poll_query_until('postgres', 'SELECT count(*) = 1 FROM pg_prepared_xacts')
  or die 'the subscriber did not get the prepared transaction';
$primary->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$prepare_lsn' FROM pg_replication_slots WHERE slot_name = 'sub'"
) or die 'the subscriber did not confirm the PREPARE';
$sync_lsn = $primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
$primary->wait_for_catchup($standby, 'replay', $sync_lsn);
ok( $standby->poll_query_until('postgres',
		"SELECT confirmed_flush_lsn >= '$prepare_lsn' FROM pg_replication_slots WHERE slot_name = 'sub'"
	),
	'the copy has the confirmed position past the PREPARE');

##########
# kill -9 failover, then COMMIT PREPARED on the new primary.
##########
my $log_offset = -s $subscriber->logfile;
$primary->stop('immediate');
$standby->promote;
$subscriber->safe_psql('postgres',
	'ALTER SUBSCRIPTION sub CONNECTION ' . connstr_literal($standby));
$standby->safe_psql('postgres',
	"COMMIT PREPARED 'tx'; INSERT INTO public.t VALUES (111)");

ok( $subscriber->poll_query_until(
		'postgres',
		'SELECT count(*) = 111 AND count(DISTINCT id) = 111 FROM public.t'
		  . ' WHERE NOT EXISTS (SELECT FROM pg_prepared_xacts)'),
	'the prepared transaction reached the subscriber exactly once')
  or diag $subscriber->safe_psql('postgres',
	'SELECT count(*) FROM public.t; SELECT gid FROM pg_prepared_xacts');

my @errors = apply_errors($subscriber, $log_offset);
is(scalar(@errors), 0, 'no apply error on the subscriber') or diag join("\n", @errors);

$subscriber->safe_psql('postgres', 'DROP SUBSCRIPTION sub');
done_testing();
