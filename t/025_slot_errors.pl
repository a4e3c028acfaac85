# Copyright (c) 2026, slot_failover developers

# A failing copy affects only itself.  A client takes a copy on the
# standby while no slot_failover process holds it (the worker and the
# launcher were terminated): the row reports it, with one WARNING.  The
# primary then unmarks the slot, so the standby must drop the copy, which
# the client keeps active.  The drop fails, and the cycles go on for the
# other rows: sync() on the standby completes, and another copy follows
# its slot.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', standby_slot => 1);
$primary->safe_psql(
	'postgres', q{
SELECT slot_failover.mark('standby_slot');
SELECT pg_create_physical_replication_slot('taken', true);
SELECT pg_create_physical_replication_slot('other', true);
SELECT slot_failover.mark('taken');
SELECT slot_failover.mark('other');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby',
	slot => 'standby_slot');
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
ok(make_copy_ready($primary, $standby, [ 'taken', 'other' ], replay => 1),
	'both copies are ready');

my $offset = -s $standby->logfile;

# Leave the copies to anybody for a moment: terminate the worker, then,
# while the launcher waits to start the next one, the launcher, which
# the postmaster restarts after a few seconds.
$standby->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'slot_failover worker'"
);
$standby->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'slot_failover worker'"
) or die 'the worker did not exit';
$standby->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'slot_failover launcher'"
);
$standby->poll_query_until('postgres',
	"SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'taken'")
  or die 'the copy stayed active';

my ($out, $err) = ('', '');
my $receiver = IPC::Run::start(
	[
		'pg_receivewal', '--no-loop', '-S', 'taken',
		'-D', PostgreSQL::Test::Utils::tempdir(),
		'-d', $standby->connstr('postgres')
	],
	'>', \$out, '2>', \$err);
ok( $standby->poll_query_until(
		'postgres', q{
SELECT a.backend_type = 'walsender'
FROM pg_replication_slots s JOIN pg_stat_activity a ON a.pid = s.active_pid
WHERE s.slot_name = 'taken'}),
	'a client streams from the copy');
$standby->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'slot_failover worker'"
) or die 'no worker again';

ok($standby->wait_for_log(qr/WARNING:  could not synchronize replication slot "taken"/, $offset),
	'the worker reports that it cannot take the copy back');
ok( wait_for_copy_state(
		$standby, 'taken', 'error',
		also => q{reason ~ '^replication slot "taken" is active for PID \d+$'}),
	'the status view says why');

# The slot is unmarked on the primary, and the other slot moves.
$primary->safe_psql('postgres', "SELECT slot_failover.unmark('taken')");
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (2)');
my $moved = move_slots($primary, 'other');
sync_standby($primary, $standby);
is( $standby->safe_psql(
		'postgres',
		"SELECT restart_lsn = '$moved->{other}' FROM pg_replication_slots WHERE slot_name = 'other'"
	),
	't',
	'the other copy follows its slot');
ok(wait_for_copy_state($standby, 'other', 'ready'), 'and is ready');

# More cycles, each of which finds the copy still taken.
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (3)');
$moved = move_slots($primary, 'other');
sync_standby($primary, $standby);
sync_standby($primary, $standby);
is( $standby->safe_psql(
		'postgres',
		"SELECT restart_lsn = '$moved->{other}' FROM pg_replication_slots WHERE slot_name = 'other'"
	),
	't',
	'the other copy follows again');
my $log = slurp_file($standby->logfile, $offset);
is(scalar(() = $log =~ /could not synchronize replication slot "taken"/g),
	1, 'the failing drop is reported once');
unlike($log, qr/ERROR/, 'no cycle failed');
is($standby->safe_psql('postgres', 'SELECT last_error FROM slot_failover.worker'),
	'', 'the worker records no error');

# Once the client lets go, the copy is dropped.
$receiver->kill_kill;
ok( $standby->poll_query_until(
		'postgres',
		"SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name = 'taken'"),
	'the copy is dropped once the client let go');

done_testing();
