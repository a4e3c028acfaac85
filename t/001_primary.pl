# Copyright (c) 2026, slot_failover developers

# The primary's side: marked slots are recorded in slot_failover.slots and
# the rows follow the slots; dropped slots lose their row; a slot created
# again under the same name is a new slot; standbys refuse mark().
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
CREATE TABLE public.t (id int PRIMARY KEY);
CREATE PUBLICATION pub FOR TABLE public.t;
SELECT pg_create_logical_replication_slot('decoding', 'test_decoding');
SELECT pg_create_logical_replication_slot('subscription', 'pgoutput');
SELECT pg_create_physical_replication_slot('follower', true);
SELECT slot_failover.mark('decoding');
SELECT slot_failover.mark('subscription');
SELECT slot_failover.mark('follower');
});

is( $primary->safe_psql(
		'postgres', q{
SELECT string_agg(slot_name || ':' || slot_type || ':' || coalesce(plugin, '-'), ' ' ORDER BY slot_name)
FROM slot_failover.slots}),
	'decoding:logical:test_decoding follower:physical:- subscription:logical:pgoutput',
	'marked slots have a row each');

# A row equals its slot in everything it records.
sub row_matches_slot
{
	my ($slot) = @_;
	return qq{
SELECT s.restart_lsn IS NOT DISTINCT FROM r.restart_lsn
   AND s.confirmed_flush_lsn IS NOT DISTINCT FROM r.confirmed_flush_lsn
   AND s.catalog_xmin IS NOT DISTINCT FROM r.catalog_xmin
FROM slot_failover.slots s JOIN pg_replication_slots r USING (slot_name)
WHERE slot_name = '$slot'};
}

##########
# Consuming changes moves the rows, without anybody calling sync().
##########
my $before = $primary->safe_psql('postgres',
	q{SELECT string_agg(coalesce(confirmed_flush_lsn, restart_lsn)::text, ' ' ORDER BY slot_name) FROM slot_failover.slots}
);

my $moved_at = $primary->safe_psql('postgres', 'SELECT now()');
$primary->safe_psql('postgres', 'INSERT INTO public.t SELECT generate_series(1, 100)');
my $changes = $primary->safe_psql('postgres',
	q{SELECT count(*) FROM pg_logical_slot_get_changes('decoding', NULL, NULL) WHERE data LIKE 'table public.t: INSERT%'}
);
is($changes, '100', 'the test_decoding slot consumed the inserts');
$primary->safe_psql(
	'postgres', q{
SELECT pg_replication_slot_advance('subscription', pg_current_wal_lsn());
SELECT pg_replication_slot_advance('follower', pg_current_wal_lsn());
});

for my $slot ('decoding', 'subscription', 'follower')
{
	ok($primary->poll_query_until('postgres', row_matches_slot($slot)),
		"row of $slot follows its slot")
	  or diag $primary->safe_psql('postgres', 'TABLE slot_failover.status');
}

my $after = $primary->safe_psql('postgres',
	q{SELECT string_agg(coalesce(confirmed_flush_lsn, restart_lsn)::text, ' ' ORDER BY slot_name) FROM slot_failover.slots}
);
isnt($after, $before, 'rows moved forward');
is( $primary->safe_psql(
		'postgres',
		"SELECT count(*) FROM slot_failover.slots WHERE updated_at < '$moved_at'"),
	'0',
	'each row says when the worker wrote it');
is( $primary->safe_psql(
		'postgres', q{SELECT count(*) FROM slot_failover.status WHERE lag_bytes <> 0}),
	'0',
	'the status view shows no lag once the worker wrote');
is( $primary->safe_psql(
		'postgres', q{SELECT rows_written > 0 AND last_error IS NULL FROM slot_failover.worker}),
	't',
	'the worker view counts the writes and shows no error');

##########
# Dropping a slot removes its row.
##########
$primary->safe_psql('postgres', q{SELECT pg_drop_replication_slot('follower')});
ok( $primary->poll_query_until(
		'postgres', q{SELECT count(*) = 0 FROM slot_failover.slots WHERE slot_name = 'follower'}),
	'row of a dropped slot is deleted');

##########
# A slot dropped and created again under the same name is a new slot: even
# when the worker never sees the gap, the row goes, and marking the new
# slot gives it a new identity.
##########
my $old_identity = $primary->safe_psql('postgres',
	q{SELECT slot_identity FROM slot_failover.slots WHERE slot_name = 'subscription'});
$primary->safe_psql('postgres',
	q{SELECT pg_drop_replication_slot('subscription'), pg_create_logical_replication_slot('subscription', 'pgoutput')}
);
ok( $primary->poll_query_until(
		'postgres',
		q{SELECT count(*) = 0 FROM slot_failover.slots WHERE slot_name = 'subscription'}),
	'row of a slot created again under its name is deleted');
$primary->safe_psql('postgres', q{SELECT slot_failover.mark('subscription')});
my $new_identity = $primary->safe_psql('postgres',
	q{SELECT slot_identity FROM slot_failover.slots WHERE slot_name = 'subscription'});
isnt($new_identity, $old_identity, 'marking the new slot gives it a new identity');

##########
# The marks survive a crash: after an immediate stop the rows are the same
# and the worker keeps them.
##########
my $rows_before_crash = $primary->safe_psql('postgres',
	q{SELECT string_agg(slot_name || ':' || slot_identity, ' ' ORDER BY slot_name) FROM slot_failover.slots}
);
$primary->stop('immediate');
$primary->start;
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
is( $primary->safe_psql(
		'postgres',
		q{SELECT string_agg(slot_name || ':' || slot_identity, ' ' ORDER BY slot_name) FROM slot_failover.slots}
	),
	$rows_before_crash,
	'marks and identities survive an immediate restart');

##########
# A standby refuses mark() and unmark(): the primary decides.
##########
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

my ($ret, $stdout, $stderr) =
  $standby->psql('postgres', q{SELECT slot_failover.mark('decoding')});
isnt($ret, 0, 'mark() fails on a standby');
like(
	$stderr,
	qr/ERROR:  recovery is in progress.*HINT:  Mark and unmark slots on the primary/s,
	'mark() on a standby says why and where to do it');
($ret, $stdout, $stderr) =
  $standby->psql('postgres', q{SELECT slot_failover.unmark('decoding')});
like($stderr, qr/ERROR:  recovery is in progress/, 'so does unmark()');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM slot_failover.slots'),
	'2', 'the standby has the rows through WAL');

$standby->stop;
$primary->stop;
done_testing();
