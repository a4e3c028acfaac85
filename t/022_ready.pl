# Copyright (c) 2026, slot_failover developers

# What "ready" promises: a copy in state ready, used right after promotion,
# decodes or streams from its row's position.  It stays ready while the
# primary is unreachable.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary');
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE public.t (id int PRIMARY KEY);
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT slot_failover.mark('standby_slot');
SELECT pg_create_logical_replication_slot('logical', 'test_decoding');
SELECT slot_failover.mark('logical');
});
$primary->backup('backup');

# The walreceiver retries only after a long while once the primary is
# gone, so that the standby mostly has none.
my $standby = new_standby($primary, 'backup', 'standby',
	slot => 'standby_slot',
	conf => "wal_retrieve_retry_interval = '10min'\n");
wait_for_copy_state($standby, 'logical', 'waiting');
$primary->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(1, 10)');
ok(make_copy_ready($primary, $standby, 'logical', replay => 1),
	'the logical copy is ready');

##########
# A ready copy stays ready when the primary is unreachable: its catalog_xmin
# is the row's, which the primary's own slot holds, so it does not need the
# standby's feedback that a new copy waits for.
##########
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
my $cycles =
  $standby->safe_psql('postgres', 'SELECT cycles FROM slot_failover.worker');
$standby->poll_query_until('postgres',
	"SELECT cycles >= $cycles + 5 FROM slot_failover.worker")
  or die 'the standby\'s worker does not run';
is( $standby->safe_psql(
		'postgres',
		"SELECT state FROM slot_failover.status WHERE slot_name = 'logical'"),
	'ready',
	'and after more cycles of the worker');
unlike(slurp_file($standby->logfile),
	qr/logical replication slots cannot be made ready on this standby/,
	'and no WARNING that logical copies cannot be made ready');

done_testing();
