# Copyright (c) 2026, slot_failover developers

# What "ready" promises: a copy in state ready, used right after promotion,
# decodes or streams from its row's position.  It stays ready while the
# primary is unreachable, a copy invalidated on the standby is never
# ready (it is made anew), and a logical copy is ready only with the
# decoding snapshot of its restart_lsn.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', standby_slot => 1);
$primary->safe_psql(
	'postgres', q{
SELECT slot_failover.mark('standby_slot');
SELECT pg_create_logical_replication_slot('logical', 'test_decoding');
SELECT slot_failover.mark('logical');
});
$primary->backup('backup');

my $standby = new_standby($primary, 'backup', 'standby',
	slot => 'standby_slot');
wait_for_copy_state($standby, 'logical', 'waiting');
$primary->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(1, 10)');
ok(make_copy_ready($primary, $standby, 'logical', replay => 1),
	'the logical copy is ready');

##########
# A copy that a restartpoint invalidated on the standby (its WAL was
# removed, max_slot_wal_keep_size) is never ready: the worker says why,
# drops it and makes a new one, which waits.  The primary's slot does not
# move, so the copy lags.
##########
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_physical_replication_slot('lagging', true);
SELECT slot_failover.mark('lagging');
});
my $small = new_standby($primary, 'backup', 'small',
	conf => "max_slot_wal_keep_size = 1MB\n");
$primary->wait_for_catchup($small, 'replay', $primary->lsn('insert'));
$small->safe_psql('postgres', 'SELECT slot_failover.sync()');
ok(wait_for_copy_state($small, 'lagging', 'ready'),
	'the copy of a slot that does not move is ready');

my $offset = -s $small->logfile;
for my $i (1 .. 4)
{
	$primary->safe_psql('postgres',
		"INSERT INTO public.t VALUES (100 + $i); SELECT pg_switch_wal();");
}
$primary->safe_psql('postgres', 'CHECKPOINT');
$primary->wait_for_catchup($small, 'replay', $primary->lsn('insert'));
$small->safe_psql('postgres', 'CHECKPOINT');
# 15 says "invalidating slot", 16+ "invalidating obsolete replication slot"
ok( $small->wait_for_log(
		qr/invalidating (obsolete replication )?slot "lagging"/, $offset),
	'a restartpoint invalidates the lagging copy');
ok( $small->wait_for_log(
		qr/WARNING:  copy of replication slot "lagging" was invalidated on this standby/,
		$offset),
	'the worker says the copy was invalidated');
ok(wait_for_copy_state($small, 'lagging', 'waiting'),
	'and the new copy waits');
is( $small->safe_psql(
		'postgres', q{
SELECT count(*) FROM slot_failover.status s JOIN pg_replication_slots r USING (slot_name)
WHERE s.state = 'ready' AND (r.wal_status = 'lost' OR r.restart_lsn IS NULL)}),
	'0',
	'no copy whose WAL is lost says ready');
is( $small->safe_psql(
		'postgres',
		"SELECT wal_status <> 'lost' AND restart_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = 'lagging'"
	),
	't',
	'the new copy holds WAL');
$small->stop;

##########
# A logical copy is ready only with the decoding snapshot of its
# restart_lsn on disk, also when its reservation is the row's restart_lsn
# itself, so that it never moves there.  On an idle primary a consumed
# slot restarts at the last checkpoint's redo pointer, where the standby's
# restartpoint puts a new copy's reservation.
##########
# 17+ log a checkpoint's running transactions after a CHECKPOINT_REDO
# record at its redo pointer, so a slot never restarts there.
SKIP:
{
	skip 'on 17+ a consumed slot never restarts at the redo pointer', 4
	  if $primary->pg_version >= 17;
	$primary->safe_psql('postgres',
		"SELECT pg_create_logical_replication_slot('snap', 'test_decoding')");
	my $at_redo = 'f';
	for (1 .. 5)
	{
		move_slots($primary, 'snap');
		$at_redo = $primary->safe_psql('postgres',
			"SELECT restart_lsn = (SELECT redo_lsn FROM pg_control_checkpoint()) FROM pg_replication_slots WHERE slot_name = 'snap'"
		);
		last if $at_redo eq 't';
	}
	is($at_redo, 't', 'the slot restarts at the checkpoint\'s redo pointer');
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	$standby->safe_psql('postgres', 'CHECKPOINT');
	$primary->safe_psql('postgres', "SELECT slot_failover.mark('snap')");
	sync_standby($primary, $standby);
	ok(wait_for_copy_state($standby, 'snap', 'ready'), 'the copy is ready');
	is( $standby->safe_psql(
			'postgres',
			"SELECT r.restart_lsn = s.restart_lsn FROM pg_replication_slots r JOIN slot_failover.slots s USING (slot_name) WHERE slot_name = 'snap'"
		),
		't',
		'at its row\'s restart_lsn');
	is( $standby->safe_psql(
			'postgres',
			"SELECT count(*) FROM pg_ls_logicalsnapdir() WHERE name = (SELECT replace(restart_lsn::text, '/', '-') || '.snap' FROM pg_replication_slots WHERE slot_name = 'snap')"
		),
		'1',
		'with the decoding snapshot of its restart_lsn on disk');
}

##########
# A ready copy stays ready when the primary is unreachable: the standby's
# slot on the primary keeps the catalog_xmin it last fed back, so the copy
# does not need the streaming that a new copy waits for.
##########
# the walreceiver retries only after a long while once the primary is
# gone, so that the standby mostly has none
$standby->safe_psql('postgres',
	"ALTER SYSTEM SET wal_retrieve_retry_interval = '10min'; SELECT pg_reload_conf()");
my $log_offset = -s $standby->logfile;
$primary->stop('immediate');
for my $i (1 .. 5)
{
	$standby->poll_query_until('postgres',
		'SELECT count(*) = 0 FROM pg_stat_wal_receiver')
	  or die 'the standby still has a walreceiver';
	$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');
	is( $standby->safe_psql(
			'postgres',
			"SELECT state || ' ' || coalesce(reason, '') FROM slot_failover.status WHERE slot_name = 'logical'"
		),
		'ready ',
		"forced pass $i without a primary: the copy stays ready");
}
unlike(substr(slurp_file($standby->logfile), $log_offset),
	qr/logical replication slots cannot be made ready on this standby/,
	'and no WARNING that logical copies cannot be made ready');

done_testing();
