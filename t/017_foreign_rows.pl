# Copyright (c) 2026, slot_failover developers

# A row of slot_failover.slots that another cluster wrote, as a
# subscription to a publication FOR ALL TABLES would bring it, is ignored
# by the standby: no copy, state 'error' with the reason, one WARNING
# however many cycles see it; the other rows are still synced.
#
# The row is inserted by hand on the primary, after the last mark(), so
# that the primary's worker does not reload its rows and leaves it alone
# whatever it does with such rows.
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
CREATE TABLE public.t (id int);
SELECT pg_create_physical_replication_slot('phys', true);
SELECT slot_failover.mark('phys');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby');

$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
ok(make_copy_ready($primary, $standby, 'phys', replay => 1),
	'the copy of a row of this cluster is ready');

##########
# A row of another cluster arrives.
##########
my $log_offset = -s $standby->logfile;
$primary->safe_psql(
	'postgres', q{
INSERT INTO slot_failover.slots (slot_name, slot_identity, slot_type,
	two_phase, restart_lsn, invalidated, system_identifier, timeline,
	marked_at, updated_at)
VALUES ('foreign', 42, 'physical', false, pg_current_wal_lsn(), false,
	12345, 1, now(), now());
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');

is( $standby->safe_psql('postgres',
		"SELECT state || ': ' || reason FROM slot_failover.status WHERE slot_name = 'foreign'"),
	'error: the row was written by another cluster (system identifier 12345), not by this standby\'s primary',
	'the status shows the foreign row as an error, and why');
is( $standby->safe_psql('postgres',
		"SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'foreign'"),
	'0', 'the foreign row gets no copy');

# More cycles, while the other row moves: the physical slot moves to the
# primary's current position, the primary records it, and the standby
# replays and applies it.
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
my $moved = move_slots($primary, 'phys')->{phys};
sync_standby($primary, $standby);
$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');
is( $standby->safe_psql('postgres',
		"SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'phys'"),
	$moved, 'the other row is still synced');

my @warnings = grep { /WARNING:  ignoring the row of replication slot "foreign" in .*, written by another cluster/ }
  split /\n/, slurp_file($standby->logfile, $log_offset);
is(scalar(@warnings), 1, 'one WARNING for the foreign row, not one per cycle');
like(slurp_file($standby->logfile, $log_offset),
	qr/DETAIL:  The row's system identifier is 12345; this cluster's is \d+\./,
	'the WARNING names both system identifiers');

##########
# The primary's worker ignores the row too when it reloads the table (a
# mark() makes it), with one WARNING, and leaves it in place.
##########
$log_offset = -s $primary->logfile;
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_physical_replication_slot('phys2', true);
SELECT slot_failover.mark('phys2');
SELECT slot_failover.sync();
SELECT slot_failover.unmark('phys2');
SELECT slot_failover.sync();
});
@warnings = grep { /WARNING:  ignoring the row of replication slot "foreign" in .*, written by another cluster/ }
  split /\n/, slurp_file($primary->logfile, $log_offset);
is(scalar(@warnings), 1, 'the primary warns once about the foreign row');
is( $primary->safe_psql('postgres',
		"SELECT count(*) FROM slot_failover.slots WHERE slot_name = 'foreign'"),
	'1', 'the primary leaves the foreign row alone');

done_testing();
