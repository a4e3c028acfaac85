# Copyright (c) 2026, slot_failover developers

# After promotion, decoding from a copy is consistent at its restart_lsn
# (PostgreSQL 17's slot sync test, scenario 11, adapted to 15): with a
# transaction open at the slot's restart point, the transactions that
# commit after the slot's confirmed position are decoded exactly once.
# Without the decoding snapshot that the row carries, decoding on the
# promoted standby would build its snapshot from scratch, become
# consistent only after those transactions, and skip them.
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
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT slot_failover.mark('standby_slot');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');

$primary->safe_psql(
	'postgres', q{
SELECT pg_create_logical_replication_slot('cdc', 'test_decoding');
SELECT slot_failover.mark('cdc');
});
ok(wait_for_copy_state($standby, 'cdc', undef), 'the standby made its copy');
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (0)');
ok(make_copy_ready($primary, $standby, 'cdc'), 'the copy is ready');

# Make the slot restart at a point where a transaction was running: U is
# open when the running transactions are logged (a CHECKPOINT does that),
# T begins just after; U ends, the running transactions are logged again,
# and the client confirms everything so far.  The slot then restarts where
# T began, and U was running there.
my $u = $primary->background_psql('postgres');
my $t = $primary->background_psql('postgres');
$u->query_safe('BEGIN; INSERT INTO public.t VALUES (1)');
$primary->safe_psql('postgres', 'CHECKPOINT');
$primary->safe_psql('postgres',
	"SELECT count(*) FROM pg_logical_slot_get_changes('cdc', NULL, NULL)");
$t->query_safe('BEGIN; INSERT INTO public.t VALUES (2)');
$u->query_safe('COMMIT');
$primary->safe_psql('postgres', 'CHECKPOINT');
is( $primary->safe_psql(
		'postgres',
		q{SELECT string_agg(substring(data from 'id\[integer\]:(\d+)'), ',' ORDER BY lsn)
FROM pg_logical_slot_get_changes('cdc', NULL, NULL) WHERE data LIKE 'table public.t: INSERT%'}
	),
	'1',
	'the client received U');

# T, and then V, commit after the slot's confirmed position: the client
# has not seen them.
$t->query_safe('COMMIT');
$u->quit;
$t->quit;
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (4)');

my ($restart, $confirmed) = split /\|/,
  $primary->safe_psql('postgres',
	"SELECT restart_lsn, confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'cdc'");
sync_standby($primary, $standby);
is( $standby->safe_psql(
		'postgres',
		"SELECT restart_lsn || '|' || confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'cdc'"
	),
	"$restart|$confirmed",
	'the copy has the slot\'s restart and confirmed positions');

$primary->stop('immediate');
$standby->promote;
my $changes = $standby->safe_psql('postgres',
	q{SELECT string_agg(substring(data from 'id\[integer\]:(\d+)'), ',' ORDER BY lsn)
FROM pg_logical_slot_get_changes('cdc', NULL, NULL) WHERE data LIKE 'table public.t: INSERT%'}
);
is($changes, '2,4',
	'decoding on the promoted standby returns each transaction committed after the confirmed position exactly once'
);

$standby->stop;
done_testing();
