# Copyright (c) 2026, slot_failover developers

# The readiness check an HA tool's pre-promote hook runs on a standby:
# slot_failover.ready_for_failover() and the status view's failover_ready
# follow the copies' states, and the README's psql idiom exits non-zero,
# naming the copies that are not ready, until every copy is ready.
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
CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
CREATE ROLE plain LOGIN;
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby',
	slot => 'standby_slot');

# The hook, as the README gives it: its exit code and what it printed.
sub hook
{
	my ($node, $user) = @_;
	my ($stdout, $stderr);
	IPC::Run::run(
		[
			'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d',
			$node->connstr('postgres') . ($user ? " user=$user" : ''),
			'-c', 'SELECT slot_failover.ready_for_failover(true)'
		],
		'>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stderr);
}

wait_for_copy_state($standby, 'logical', 'waiting');
is( $standby->safe_psql(
		'postgres',
		"SELECT slot_name, failover_ready FROM slot_failover.status ORDER BY 1"),
	"logical|f\nstandby_slot|t",
	'failover_ready: the waiting copy is not ready; the slot the standby streams from needs no copy');
is($standby->safe_psql('postgres', 'SELECT slot_failover.ready_for_failover()'),
	'f', 'ready_for_failover() is false while a copy waits');
my ($rc, $stderr) = hook($standby, 'monitor');
is($rc, 1, 'the pre-promote hook fails (exit code 1) while a copy waits');
like(
	$stderr,
	qr/ERROR:  this standby is not ready for failover\n.*DETAIL:  Copies of replication slots that are not ready: "logical" \(waiting: [^\n]+\)\./s,
	'its error names the copy that is not ready, with its state and reason');
unlike($stderr, qr/standby_slot/, 'and only that one');

$primary->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(1, 10)');
make_copy_ready($primary, $standby, 'logical', replay => 1);
is($standby->safe_psql('postgres', 'SELECT slot_failover.ready_for_failover()'),
	't', 'ready_for_failover() is true once every copy is ready');
is( $standby->safe_psql('postgres',
		'SELECT bool_and(failover_ready) FROM slot_failover.status'),
	't', 'as failover_ready says');
($rc, $stderr) = hook($standby, 'monitor');
is($rc, 0, 'the pre-promote hook succeeds, run by a member of pg_monitor');

# on a primary the question makes no sense
($rc, $stderr) = hook($primary);
isnt($rc, 0, 'the hook fails on a primary');
like($stderr, qr/ERROR:  recovery is not in progress/, 'saying why');
is($primary->safe_psql('postgres',
		'SELECT count(*) FROM slot_failover.status WHERE failover_ready IS NOT NULL'),
	'0', 'failover_ready is NULL on a primary');

($rc, $stderr) = hook($standby, 'plain');
like($stderr, qr/permission denied for function ready_for_failover/,
	'a role outside pg_monitor may not call it');
done_testing();
