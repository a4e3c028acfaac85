# Copyright (c) 2026, slot_failover developers

# At promotion every copy is first brought to the last replayed row, then
# released: rows replayed after the standby's last cycle are not lost.  The
# standby's worker sleeps for an hour, so only sync() wakes it: it sees the
# rows replayed just before promotion only in its last pass at the end of
# recovery.  It is killed (-9, a crash restart) before it has seen the
# promotion: the next worker makes that pass.
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
SELECT pg_create_physical_replication_slot('physical', true);
SELECT pg_create_logical_replication_slot('logical', 'test_decoding');
SELECT slot_failover.mark('physical');
SELECT slot_failover.mark('logical');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby',
	slot => 'standby_slot',
	conf => "slot_failover.naptime = '1h'\nrestart_after_crash = on\n");

$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
sync_standby($primary, $standby);
make_copy_ready($primary, $standby, [ 'physical', 'logical' ], replay => 1);

# The slots move, the primary records them, the standby replays the rows;
# its worker, asleep, does not look.
$primary->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(2, 100)');
my $moved = move_slots($primary, [ 'physical', 'logical' ]);
my $lsn = $primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
$primary->wait_for_catchup($standby, 'replay', $lsn);

my $rows_query = q{
SELECT slot_name, restart_lsn, coalesce(confirmed_flush_lsn, restart_lsn)
FROM slot_failover.slots WHERE slot_name IN ('physical', 'logical')
ORDER BY slot_name};
my $slots_query = q{
SELECT slot_name, restart_lsn, coalesce(confirmed_flush_lsn, restart_lsn)
FROM pg_replication_slots WHERE slot_name IN ('physical', 'logical')
ORDER BY slot_name};
my $replayed = $standby->safe_psql('postgres', $rows_query);
is( $replayed,
	"logical|"
	  . $primary->safe_psql('postgres',
		"SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'logical'")
	  . "|$moved->{logical}\nphysical|$moved->{physical}|$moved->{physical}",
	'the standby replayed the rows of the moved slots');
isnt($standby->safe_psql('postgres', $slots_query),
	$replayed, 'the copies have not followed yet');

$primary->stop('immediate');
my $promote_offset = -s $standby->logfile;
$standby->promote;
# the checkpoint that ends the promotion saves the slots too: let it pass
# first, so that only the worker's own save can keep the copies below
$standby->wait_for_log(qr/checkpoint complete/, $promote_offset);
# and the worker, asleep since before the promotion, dies with the server
# before it has seen the promotion: the next worker must still make the
# last pass, which a file in the data directory tells it
my $worker_pid = $standby->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'slot_failover worker'");
my $kill_offset = -s $standby->logfile;
kill 'KILL', $worker_pid;
$standby->wait_for_log(qr/all server processes terminated; reinitializing/,
	$kill_offset);
$standby->wait_for_log(qr/database system is ready to accept connections/,
	$kill_offset);
# wake the worker, which takes the primary's role
$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');
ok( $standby->poll_query_until(
		'postgres', "SELECT role = 'primary' FROM slot_failover.worker"),
	'the worker takes the primary\'s role');

is($standby->safe_psql('postgres', $slots_query),
	$replayed, 'after promotion the copies are at the rows replayed');
is( $standby->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('physical', 'logical') AND NOT active"
	),
	'2',
	'and the worker let go of them');

# a crash now keeps them there
$standby->stop('immediate');
$standby->start;
is($standby->safe_psql('postgres', $slots_query),
	$replayed, 'a crash after promotion keeps the copies at the rows replayed');

done_testing();
