# Copyright (c) 2026, slot_failover developers

# The worker's life around two events that restart processes under it.
#
# pg_upgrade (within one major) of a cluster that preloads slot_failover,
# with the extension installed and slots marked, into a new cluster that
# preloads it too: pg_upgrade runs both in binary-upgrade mode, where no
# worker may start, and succeeds; the new cluster then runs the worker.
#
# A launcher that exits while its worker lives is restarted by the
# postmaster: the new launcher leaves that worker alone, without a second
# worker logging "already running" every 5 s, and starts the next worker
# when that one exits.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $old = new_primary('old');
$old->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
SELECT pg_create_physical_replication_slot('phys', true);
SELECT pg_create_logical_replication_slot('logical', 'test_decoding');
SELECT slot_failover.mark('phys');
SELECT slot_failover.mark('logical');
});
# 17+ carry logical slots across pg_upgrade, and refuse one that has not
# consumed all WAL: consume until nothing is left, the worker's own row
# writes included (it does not record movement over its own WAL).
if ($old->pg_version >= 17)
{
	$old->safe_psql('postgres', 'SELECT slot_failover.sync()');
	$old->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_logical_slot_get_changes('logical', NULL, NULL)")
	  or die 'the logical slot did not catch up';
}
$old->stop;

my $new = PostgreSQL::Test::Cluster->new('new');
$new->init(allows_streaming => 'logical');
$new->append_conf('postgresql.conf', "shared_preload_libraries = 'slot_failover'");

##########
# pg_upgrade succeeds, and the new cluster runs the worker.
##########
my $bindir = $new->config_data('--bindir');

# pg_upgrade writes its scripts into the current directory.
chdir $PostgreSQL::Test::Utils::tmp_check;
command_ok(
	[
		'pg_upgrade', '--no-sync',
		'-d', $old->data_dir, '-D', $new->data_dir,
		'-b', $bindir, '-B', $bindir,
		'-s', $new->host,
		'-p', $old->port, '-P', $new->port
	],
	'pg_upgrade of a cluster that preloads slot_failover succeeds');

$new->start;
ok( $new->poll_query_until('postgres',
		"SELECT pid IS NOT NULL AND role = 'primary' AND cycles > 0 FROM slot_failover.worker"),
	'the upgraded cluster runs the worker');

##########
# A launcher restarted while its worker lives waits for that worker.
##########
my $launcher = $new->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'slot_failover launcher'");
my $worker = $new->safe_psql('postgres', 'SELECT pid FROM slot_failover.worker');
my $log_offset = -s $new->logfile;

$new->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");

# The new launcher sleeps between looks; an old one would first have
# started a worker and waited for it to exit.
ok( $new->poll_query_until('postgres',
		"SELECT wait_event = 'Extension' FROM pg_stat_activity"
		  . " WHERE backend_type = 'slot_failover launcher' AND pid <> $launcher"),
	'the postmaster restarted the launcher, which waits');
is($new->safe_psql('postgres', 'SELECT pid FROM slot_failover.worker'),
	$worker, 'the worker of the old launcher still runs');

$new->safe_psql('postgres', "SELECT pg_terminate_backend($worker)");
ok( $new->poll_query_until('postgres',
		"SELECT pid IS NOT NULL AND pid <> $worker FROM slot_failover.worker"),
	'the new launcher starts a worker once that one has exited');

is( scalar(grep { /already running/ } split /\n/, slurp_file($new->logfile, $log_offset)),
	0, 'no second worker was started while the first one ran');

done_testing();
