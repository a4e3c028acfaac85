# Copyright (c) 2026, slot_failover developers

# A planned switchover loses and repeats nothing: sync() on the primary,
# clean shutdown, promote, repoint the subscription.  And DDL between the
# slot's confirmed position and the failover is decoded after promotion
# with the right table definition on each side of it.
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
CREATE TABLE public.keys (id int PRIMARY KEY);
CREATE TABLE public.ddl (a int);
CREATE PUBLICATION pub FOR TABLE public.keys;
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT pg_create_logical_replication_slot('sub', 'pgoutput');
SELECT pg_create_logical_replication_slot('decoding', 'test_decoding');
SELECT slot_failover.mark('sub');
SELECT slot_failover.mark('decoding');
});
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot'; SELECT pg_reload_conf()");

my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->start;
$subscriber->safe_psql('postgres',
	'CREATE TABLE public.keys (id int PRIMARY KEY); '
	  . 'CREATE SUBSCRIPTION sub CONNECTION ' . connstr_literal($primary)
	  . " PUBLICATION pub WITH (create_slot = false, slot_name = 'sub')");

# Both slots consume, with a restart point that has a decoding snapshot.
$primary->safe_psql('postgres', 'INSERT INTO public.keys SELECT generate_series(1, 100); CHECKPOINT');
$subscriber->poll_query_until('postgres', 'SELECT count(*) = 100 FROM public.keys')
  or die 'the subscription did not start';
$primary->safe_psql('postgres',
	"SELECT count(*) FROM pg_logical_slot_get_changes('decoding', NULL, NULL); CHECKPOINT");
$primary->safe_psql('postgres',
	"SELECT count(*) FROM pg_logical_slot_get_changes('decoding', NULL, NULL)");
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
ok(wait_for_copy_state($standby, [ 'sub', 'decoding' ], 'ready'), 'both copies are ready');

# After the decoding slot's confirmed position: a row, a new column, a
# row that uses it.  And more rows for the subscriber.
$primary->safe_psql(
	'postgres', q{
INSERT INTO public.ddl VALUES (1);
ALTER TABLE public.ddl ADD COLUMN b text;
INSERT INTO public.ddl VALUES (2, 'two');
INSERT INTO public.keys SELECT generate_series(101, 200);
});
$subscriber->poll_query_until('postgres', 'SELECT count(*) = 200 FROM public.keys')
  or die 'the subscription fell behind';

##########
# Planned switchover.
##########
sync_standby($primary, $standby);
$primary->stop;
$standby->promote;
my $log_offset = -s $subscriber->logfile;
$subscriber->safe_psql('postgres',
	'ALTER SUBSCRIPTION sub CONNECTION ' . connstr_literal($standby));
$standby->safe_psql('postgres', 'INSERT INTO public.keys SELECT generate_series(201, 300)');
ok($subscriber->poll_query_until('postgres', 'SELECT count(*) = 300 FROM public.keys'),
	'the subscription continues from the new primary');
is( $subscriber->safe_psql(
		'postgres', 'SELECT count(DISTINCT id) || \'/\' || min(id) || \'/\' || max(id) FROM public.keys'),
	'300/1/300',
	'every row exactly once');
my @errors = apply_errors($subscriber, $log_offset);
is(scalar(@errors), 0, 'no apply error on the subscriber') or diag join("\n", @errors);

##########
# DDL after the confirmed position, decoded on the new primary.
##########
is( $standby->safe_psql(
		'postgres',
		q{SELECT string_agg(data, E'\n' ORDER BY lsn) FROM pg_logical_slot_get_changes('decoding', NULL, NULL) WHERE data LIKE 'table public.ddl:%'}
	),
	"table public.ddl: INSERT: a[integer]:1\ntable public.ddl: INSERT: a[integer]:2 b[text]:'two'",
	'each row is decoded with the table definition of its time');

$subscriber->stop;
$standby->stop;
done_testing();
