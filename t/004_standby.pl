# Copyright (c) 2026, slot_failover developers

# The standby's side: copies of the marked slots appear, wait until the
# primary's slots pass what the standby reserved, then follow them; they
# hold WAL across restartpoints; a local slot of the same name is left
# alone; at promotion, copies that never became ready are dropped, ready
# ones are usable at once, and the new primary records them.
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
});

$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');

# Replay everything the primary wrote, then let the standby's worker look.
sub standby_sync
{
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');
}

sub copy_state
{
	my ($slot) = @_;
	return $standby->safe_psql('postgres',
		"SELECT state FROM slot_failover.status WHERE slot_name = '$slot'");
}

##########
# A new logical copy waits until the primary's slot passes the standby's
# reservation; consuming on the primary makes it ready.
##########
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_logical_replication_slot('logical', 'test_decoding');
SELECT pg_create_physical_replication_slot('physical', true);
SELECT slot_failover.mark('logical');
SELECT slot_failover.mark('physical');
});
standby_sync();
is(copy_state('logical'), 'waiting', 'a new logical copy waits');
like(
	$standby->safe_psql('postgres',
		"SELECT reason FROM slot_failover.status WHERE slot_name = 'logical'"),
	qr/waiting for the primary's slot to reach this standby's reservation/,
	'and says what for');
is( $standby->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('logical', 'physical')"
	),
	'2',
	'the copies exist on the standby');
is(copy_state('standby_slot'), 'waiting',
	'the standby does not copy the slot it streams from');

# Consume on the primary until the slot has passed what the standby holds.
$primary->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(1, 10)');
ok(make_copy_ready($primary, $standby, [ 'logical', 'physical' ]),
	'both copies become ready once the primary slots advanced');

##########
# A ready copy follows its slot.
##########
$primary->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(11, 20)');
$primary->safe_psql('postgres',
	"SELECT count(*) FROM pg_logical_slot_get_changes('logical', NULL, NULL)");
my $confirmed = $primary->safe_psql('postgres',
	"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'logical'");
ok( $standby->poll_query_until(
		'postgres',
		"SELECT confirmed_flush_lsn = '$confirmed' FROM pg_replication_slots WHERE slot_name = 'logical'"
	),
	'the ready copy advances with its slot');
is( $standby->safe_psql(
		'postgres',
		"SELECT r.restart_lsn = s.restart_lsn AND r.catalog_xmin = s.catalog_xmin FROM pg_replication_slots r JOIN slot_failover.slots s USING (slot_name) WHERE slot_name = 'logical'"
	),
	't',
	'with the row\'s restart_lsn and catalog_xmin');

##########
# Users cannot drop, advance or stream from a copy: the worker holds it,
# and the error names slot_failover.  PostgreSQL 15 refuses logical
# decoding during recovery before it looks at the slot, with a hint that
# names slot_failover too; 16+ decode on a standby and find the copy held.
##########
for my $sql (
	"SELECT pg_drop_replication_slot('physical')",
	"SELECT pg_replication_slot_advance('physical', pg_last_wal_replay_lsn())",
	"SELECT pg_drop_replication_slot('logical')",
	"SELECT pg_replication_slot_advance('logical', pg_last_wal_replay_lsn())")
{
	my ($ret, $stdout, $stderr) = $standby->psql('postgres', $sql);
	like(
		$stderr,
		qr/ERROR:  replication slot "(physical|logical)" is active for PID \d+\nHINT:  The slot is a copy kept by slot_failover/,
		"refused with a hint naming slot_failover: $sql");
}
my $refused = $standby->pg_version >= 16
  ? qr/ERROR:  replication slot "logical" is active for PID \d+\nHINT:  The slot is a copy kept by slot_failover/
  : qr/ERROR:  logical decoding cannot be used while in recovery\nHINT:  The logical slots of this standby are copies kept by slot_failover/;
my ($ret, $stdout, $stderr) = $standby->psql('postgres',
	"SELECT pg_logical_slot_get_changes('logical', NULL, NULL)");
like($stderr, $refused, 'a logical copy cannot be consumed on the standby');
$standby->command_fails_like(
	[
		'pg_recvlogical', '-d', $standby->connstr('postgres'),
		'-S', 'logical', '--start', '-f', '-', '--no-loop'
	],
	$standby->pg_version >= 16
	? qr/replication slot "logical" is active for PID/
	: qr/logical decoding cannot be used while in recovery/,
	'nor streamed from');
is( $standby->safe_psql(
		'postgres',
		"SELECT string_agg(slot_name || ':' || state, ',' ORDER BY slot_name) FROM slot_failover.status WHERE slot_name IN ('logical', 'physical')"
	),
	'logical:ready,physical:ready',
	'both copies are still there and ready');

##########
# The copy holds WAL across restartpoints while it is behind.
##########
my $held_lsn = $standby->safe_psql('postgres',
	"SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'physical'");
# pg_walfile_name() does not run during recovery; both are on timeline 1
my $held = $primary->safe_psql('postgres', "SELECT pg_walfile_name('$held_lsn')");
for my $i (1 .. 4)
{
	$primary->safe_psql('postgres', 'SELECT pg_switch_wal(); INSERT INTO public.t VALUES (1000 + ' . $i . ')');
}
$primary->safe_psql('postgres', 'CHECKPOINT');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
$standby->safe_psql('postgres', 'CHECKPOINT');
is( $standby->safe_psql(
		'postgres', "SELECT count(*) FROM pg_ls_waldir() WHERE name = '$held'"),
	'1',
	'WAL from the copy\'s restart_lsn survives restartpoints');

##########
# A local slot of the same name is a conflict, left alone.
##########
$standby->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('clash')");
my $log_offset = -s $standby->logfile;
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_physical_replication_slot('clash', true);
SELECT slot_failover.mark('clash');
});
standby_sync();
is(copy_state('clash'), 'conflict', 'a local slot of the same name is a conflict');
$standby->wait_for_log(qr/replication slot "clash" exists on this standby and was not created by slot_failover/,
	$log_offset);
is( $standby->safe_psql('postgres',
		"SELECT restart_lsn IS NULL FROM pg_replication_slots WHERE slot_name = 'clash'"),
	't', 'and the local slot is untouched');

##########
# Unmarking or re-creating a slot on the primary drops or replaces its copy.
##########
$primary->safe_psql('postgres', "SELECT slot_failover.unmark('clash')");
my $old_copy = $standby->safe_psql('postgres',
	"SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'physical'");
$primary->safe_psql(
	'postgres', q{
SELECT pg_drop_replication_slot('physical');
SELECT pg_create_physical_replication_slot('physical', true);
SELECT slot_failover.mark('physical');
SELECT pg_replication_slot_advance('physical', pg_current_wal_lsn());
});
standby_sync();
ok( $standby->poll_query_until(
		'postgres',
		"SELECT restart_lsn > '$old_copy' FROM pg_replication_slots WHERE slot_name = 'physical'"
	),
	'a slot created again on the primary gets a new copy');
is( $standby->safe_psql(
		'postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'clash'"),
	'1',
	'an unmarked row leaves a conflicting local slot alone');

##########
# Promotion: a copy that never became ready is dropped, a ready one is
# usable at once, and the new primary records it.
##########
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_logical_replication_slot('never_ready', 'test_decoding');
SELECT slot_failover.mark('never_ready');
INSERT INTO public.t VALUES (2000);
});
standby_sync();
is(copy_state('never_ready'), 'waiting', 'an idle new slot\'s copy is waiting');
is(copy_state('logical'), 'ready', 'the consumed slot\'s copy is ready');

$primary->stop('immediate');
$log_offset = -s $standby->logfile;
$standby->promote;
$standby->wait_for_log(
	qr/dropped copies of replication slots that were not ready when recovery ended\n.*DETAIL:  The copies dropped: "never_ready"\./,
	$log_offset);
is( $standby->safe_psql(
		'postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'never_ready'"),
	'0',
	'the copy that was not ready is gone');

my $decoded = $standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_logical_slot_get_changes('logical', NULL, NULL) WHERE data LIKE 'table public.t: INSERT: id[integer]:2000'"
);
is($decoded, '1', 'the ready copy decodes on the promoted standby');
is( $standby->safe_psql(
		'postgres',
		"SELECT active FROM pg_replication_slots WHERE slot_name = 'physical'"),
	'f',
	'the worker let go of the physical copy, for a follower to use');

ok( $standby->poll_query_until(
		'postgres', "SELECT role = 'primary' FROM slot_failover.worker"),
	'the worker takes the primary\'s role');
my $after = $standby->safe_psql('postgres',
	"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'logical'");
ok( $standby->poll_query_until(
		'postgres',
		"SELECT confirmed_flush_lsn = '$after' FROM slot_failover.slots WHERE slot_name = 'logical'"
	),
	'the new primary records its slot in the table');
is( $standby->safe_psql(
		'postgres', "SELECT count(*) FROM slot_failover.slots WHERE slot_name = 'never_ready'"),
	'0',
	'and forgets the slot it does not have');

$standby->stop;
done_testing();
