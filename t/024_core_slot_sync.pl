# Copyright (c) 2026, slot_failover developers

# Living beside PostgreSQL's own slot synchronization (17+): one primary
# and one standby with both enabled.  A slot created with failover = true
# is core's: mark() refuses it, and core's slot sync worker keeps its
# synced copy.  A marked slot is ours.  A marked slot whose failover option
# is turned on later passes to core: its row goes, our copy is dropped,
# and core's synced slot takes the name.  Neither log shows an error loop,
# and after promotion both kinds of slot decode.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', standby_slot => 1);
plan skip_all => 'core has slot synchronization from PostgreSQL 17 on'
  if $primary->pg_version < 17;

$primary->safe_psql(
	'postgres', q{
SELECT pg_create_logical_replication_slot('core_slot', 'test_decoding', false, false, true);
SELECT pg_create_logical_replication_slot('ours', 'test_decoding');
SELECT pg_create_logical_replication_slot('later_core', 'test_decoding');
SELECT slot_failover.mark('ours');
SELECT slot_failover.mark('later_core');
});

my ($ret, $stdout, $stderr) =
  $primary->psql('postgres', "SELECT slot_failover.mark('core_slot')");
like(
	$stderr,
	qr/ERROR:  cannot mark replication slot "core_slot" for failover\nDETAIL:  The slot was created or altered with failover = true/,
	'mark() refuses a slot that core synchronizes');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM slot_failover.slots'),
	'2', 'and records nothing for it');

$primary->backup('backup');
# core's gate and ours, each naming the standby's slot: set after the
# base backup, so that the standby, once promoted, waits for no standby
$primary->append_conf(
	'postgresql.conf', q{
synchronized_standby_slots = 'standby_slot'
slot_failover.standby_slot_names = 'standby_slot'
});
$primary->reload;
# core's slot sync needs a database in primary_conninfo
my $standby = new_standby(
	$primary, 'backup', 'standby',
	slot => 'standby_slot',
	conf => "sync_replication_slots = on\n"
	  . "primary_conninfo = '" . $primary->connstr . " dbname=postgres'\n");

# consume, so that every slot has a restart point past the standby's
# reservation, and our copies can become ready
move_slots($primary, [ 'core_slot', 'ours', 'later_core' ]);
sync_standby($primary, $standby);
ok(wait_for_copy_state($standby, [ 'ours', 'later_core' ], 'ready'),
	'our copies become ready beside core');
ok( $standby->poll_query_until(
		'postgres',
		"SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'core_slot'"
	),
	"core's slot sync worker keeps its synced slot");

# later_core passes to core: its row goes, our copy with it, and core's
# slot sync creates its own under the name
$primary->safe_psql('postgres',
	"SELECT pg_logical_slot_get_changes('later_core', NULL, NULL)");
$primary->psql(
	'postgres',
	'ALTER_REPLICATION_SLOT later_core (FAILOVER true)',
	replication => 'database');
$primary->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM slot_failover.slots WHERE slot_name = 'later_core'")
  or die 'the row of later_core stayed';
ok($primary->log_contains(
		'replication slot "later_core" is no longer marked for failover by slot_failover'),
	'the primary says why the row went');
move_slots($primary, [ 'core_slot', 'ours', 'later_core' ]);
ok( $standby->poll_query_until(
		'postgres',
		"SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'later_core'"
	),
	'core synchronizes it instead');

# Both sides settled: one more round of changes reaches both kinds of
# slot, and our worker reports no error and no conflict.
move_slots($primary, [ 'core_slot', 'ours', 'later_core' ]);
sync_standby($primary, $standby);
ok(wait_for_copy_state($standby, 'ours', 'ready'), 'our copy is still ready');
is( $standby->safe_psql(
		'postgres',
		"SELECT count(*) FROM slot_failover.status WHERE state IN ('error', 'conflict')"),
	'0',
	'no copy of ours is in error or conflict');
my $conflicts = () = slurp_file($standby->logfile) =~
  /already exists on the standby/g;
cmp_ok($conflicts, '<=', 3,
	"core's slot sync worker met our copy of the name at most briefly ($conflicts errors)");

# After promotion, both kinds of slot decode what comes next.
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
sync_standby($primary, $standby);
$primary->stop('immediate');
$standby->promote;
$standby->safe_psql('postgres', 'INSERT INTO public.t VALUES (2)');
for my $slot ('core_slot', 'ours', 'later_core')
{
	like(
		$standby->safe_psql(
			'postgres',
			"SELECT string_agg(data, ' ') FROM pg_logical_slot_get_changes('$slot', NULL, NULL)"),
		qr/INSERT: id\[integer\]:2/,
		"after promotion, $slot decodes the new primary's changes");
}

done_testing();
