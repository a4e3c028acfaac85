# Copyright (c) 2026, slot_failover developers

# A user's transaction that holds a row of slot_failover.slots (an open
# mark() or unmark()) delays that row only: every other row is recorded,
# sync() does not hang, and the status view shows the row that waits and
# why.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use SlotFailoverTest;

my $node = new_primary('primary');
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE t (id int);
SELECT 'init' FROM pg_create_logical_replication_slot('held', 'test_decoding');
SELECT 'init' FROM pg_create_logical_replication_slot('free', 'test_decoding');
SELECT slot_failover.mark('held');
SELECT slot_failover.mark('free');
});

# An unmark() that does not end: it holds the row of 'held'.
my $session = $node->background_psql('postgres');
$session->query_safe(q{BEGIN; SELECT slot_failover.unmark('held')});

# Both slots move.
$node->safe_psql(
	'postgres', q{
INSERT INTO t VALUES (1);
SELECT count(*) FROM pg_logical_slot_get_changes('held', NULL, NULL);
SELECT count(*) FROM pg_logical_slot_get_changes('free', NULL, NULL);
});

# the row the transaction does not hold is recorded
my $recorded = q{
SELECT s.confirmed_flush_lsn = r.confirmed_flush_lsn
FROM slot_failover.slots s JOIN pg_replication_slots r USING (slot_name)
WHERE slot_name = '%s'};
ok($node->poll_query_until('postgres', sprintf($recorded, 'free')),
	'a row no transaction holds is recorded')
  or die 'the worker is stuck behind the open transaction';

# sync() returns, and says which row it could not write
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET statement_timeout = '60s'; SELECT slot_failover.sync() IS NOT NULL");
is($ret, 0, 'sync() returns while a transaction holds a row');
like(
	$stderr,
	qr/WARNING:  row of replication slot "held" was not updated/,
	'sync() names the row it could not write');

is( $node->safe_psql(
		'postgres',
		"SELECT state || ': ' || reason FROM slot_failover.status WHERE slot_name = 'held'"
	),
	'waiting: the row is locked by another transaction (for instance an open mark() or unmark()); it is written once that transaction ends',
	'the status view shows the waiting row and why');
is($node->safe_psql('postgres', sprintf($recorded, 'held')),
	'f', 'the held row is not written meanwhile');

# once the transaction ends, the row is recorded
$session->query_safe('ROLLBACK');
$session->quit;
ok($node->poll_query_until('postgres', sprintf($recorded, 'held')),
	'the row is recorded once the transaction ends');
is( $node->safe_psql(
		'postgres',
		"SELECT state IS NULL FROM slot_failover.status WHERE slot_name = 'held'"),
	't',
	'and no longer shown as waiting');

##########
# mark() of a slot whose unmark() is still open waits for it, and then
# marks the slot: it never reports an unmark that is about to commit as
# "already marked".
##########
$session = $node->background_psql('postgres');
$session->query_safe(q{BEGIN; SELECT slot_failover.unmark('held')});
my $marker = $node->background_psql('postgres');
$marker->query_until(qr/marking/,
	q{\echo marking
SELECT slot_failover.mark('held');
});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND query LIKE '%slot_failover.mark%'}),
	'mark() waits for the open unmark()');
$session->query_safe('COMMIT');
$session->quit;
$marker->query_safe('SELECT 1');
$marker->quit;
$node->safe_psql('postgres', 'SELECT slot_failover.sync()');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM slot_failover.slots WHERE slot_name = 'held'"),
	'1',
	'the slot is marked after the unmark committed');
my $identity = $node->safe_psql('postgres',
	"SELECT slot_identity FROM slot_failover.slots WHERE slot_name = 'held'");
is( slurp_file($node->data_dir . '/pg_replslot/held/slot_failover.id'),
	"$identity\n", 'and its marker names the new row');

done_testing();
