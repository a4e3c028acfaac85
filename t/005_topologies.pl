# Copyright (c) 2026, slot_failover developers

# Copies on standbys of every kind: a cascading standby syncs the same
# slots from cascaded WAL, and its catalog_xmin reaches the top primary; a
# standby without hot_standby_feedback, and one fed only by
# restore_command, keep physical copies and say why their logical copies
# cannot become ready, with one WARNING; on a standby with room for one
# slot only, the row that gets none fails alone.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', archiving => 1);
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE public.t (id int);
SELECT pg_create_physical_replication_slot('a_slot', true);
});
$primary->backup('backup');

#    primary --> standby_a (feedback) --> standby_b (feedback, cascading)
#           \--> standby_c (streaming, no feedback)
#           |--> standby_d (restore_command only)
#            `-> standby_e (max_replication_slots = 1)
my $standby_a = new_standby($primary, 'backup', 'standby_a', slot => 'a_slot');
$standby_a->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('b_slot', true)");
$standby_a->backup('backup_a');

my $standby_b = new_standby($standby_a, 'backup_a', 'standby_b', slot => 'b_slot');
my $standby_c = new_standby($primary, 'backup', 'standby_c');
my $standby_d = new_standby($primary, 'backup', 'standby_d', restoring => 1);
my $standby_e = new_standby($primary, 'backup', 'standby_e',
	conf => 'max_replication_slots = 1');

# Mark one logical and one physical slot, and let them move past what any
# standby reserved.
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_logical_replication_slot('logical', 'test_decoding');
SELECT pg_create_physical_replication_slot('physical', true);
SELECT slot_failover.mark('logical');
SELECT slot_failover.mark('physical');
});

# Once every standby that streams with feedback has made its copies (and
# so its reservations), move the primary's slots past them (move_slots
# checkpoints first: that logs the running transactions that let a logical
# slot's catalog_xmin advance).
for my $node ($standby_a, $standby_b)
{
	ok(wait_for_copy_state($node, [ 'logical', 'physical' ], [ 'waiting', 'ready' ]),
		$node->name . ': copies are created');
}
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
move_slots($primary, [ 'logical', 'physical' ]);
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
for my $node ($standby_a, $standby_b)
{
	ok(wait_for_copy_state($node, [ 'logical', 'physical' ], 'ready'),
		$node->name . ': logical and physical copies become ready');
}

my $b_catalog_xmin = $standby_b->safe_psql('postgres',
	"SELECT catalog_xmin FROM pg_replication_slots WHERE slot_name = 'logical'");
ok( $primary->poll_query_until(
		'postgres',
		"SELECT catalog_xmin IS NOT NULL AND NOT (catalog_xmin::text::bigint > $b_catalog_xmin) FROM pg_replication_slots WHERE slot_name = 'a_slot'"
	),
	'the primary holds the catalog_xmin of the cascading standby\'s copy');

# The standbys that cannot hold catalog rows on the primary.
$primary->safe_psql('postgres', 'SELECT pg_switch_wal()');
for my $case (
	[ $standby_c, qr/"hot_standby_feedback" is off/ ],
	[ $standby_d, qr/does not stream from a primary/ ])
{
	my ($node, $why) = @$case;
	my $name = $node->name;
	ok(wait_for_copy_state($node, 'physical', 'ready'),
		"$name: the physical copy becomes ready");
	is( $node->safe_psql(
			'postgres', "SELECT state FROM slot_failover.status WHERE slot_name = 'logical'"),
		'waiting',
		"$name: the logical copy waits");
	like(
		$node->safe_psql(
			'postgres', "SELECT reason FROM slot_failover.status WHERE slot_name = 'logical'"),
		$why,
		"$name: and says why");
	$node->wait_for_log(qr/WARNING:  logical replication slots cannot be made ready on this standby/);
	my $log = slurp_file($node->logfile);
	my $warnings = () = $log =~ /logical replication slots cannot be made ready/g;
	is($warnings, 1, "$name: the WARNING is given once");
}

##########
# A row that fails does not hold up the others, even the ones after it:
# the copy of 'physical' has standby_e's only slot, and 'aa_no_room',
# handled first, gets none.
##########
ok(wait_for_copy_state($standby_e, 'physical', 'ready'),
	'standby_e: the physical copy is ready');
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_physical_replication_slot('aa_no_room', true);
SELECT slot_failover.mark('aa_no_room');
});
ok(wait_for_copy_state($standby_e, 'aa_no_room', 'error'),
	'standby_e: the row that gets no slot is in error');
like(
	$standby_e->safe_psql(
		'postgres', "SELECT reason FROM slot_failover.status WHERE slot_name = 'aa_no_room'"),
	qr/all replication slots are in use/,
	'standby_e: and says why');
$primary->safe_psql('postgres',
	"SELECT pg_replication_slot_advance('physical', pg_current_wal_lsn())");
my $target = $primary->safe_psql('postgres',
	"SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'physical'");
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
ok( $standby_e->poll_query_until(
		'postgres',
		"SELECT restart_lsn = '$target' FROM pg_replication_slots WHERE slot_name = 'physical'"
	),
	'standby_e: the other copy follows its slot meanwhile');

$_->stop for ($standby_b, $standby_a, $standby_c, $standby_d, $standby_e, $primary);
done_testing();
