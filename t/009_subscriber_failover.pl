# Copyright (c) 2026, slot_failover developers

# A subscription on a marked slot survives a kill -9 failover with no row
# lost or repeated: a bounded insert load of unique keys runs, the primary
# is stopped in immediate mode mid-load, the standby is promoted, the
# subscription is pointed at it, more rows are inserted; then the
# subscriber's rows equal the new primary's, and its log has no apply
# error.  Repeated SF_FAILOVER_ROUNDS times (default 5), each time killing
# at another point; raise it by hand for a longer soak.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $rounds = $ENV{SF_FAILOVER_ROUNDS} // 5;

my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->start;

for my $round (1 .. $rounds)
{
	my $primary = new_primary("primary_$round");
	$primary->safe_psql(
		'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE public.keys (id int PRIMARY KEY);
CREATE PUBLICATION pub FOR TABLE public.keys;
CREATE PROCEDURE public.load(first int, last int) LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN first .. last LOOP
		INSERT INTO public.keys VALUES (i);
		COMMIT;
	END LOOP;
END $$;
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT pg_create_logical_replication_slot('sub', 'pgoutput');
SELECT slot_failover.mark('sub');
});
	$primary->backup("backup_$round");
	my $standby = new_standby($primary, "backup_$round", "standby_$round",
		slot => 'standby_slot');

	# Only the primary gates on its standby: set after the base backup, so
	# that the standby, once promoted, has no standby of its own to wait for.
	$primary->safe_psql('postgres',
		"ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot'; SELECT pg_reload_conf()"
	);

	$subscriber->safe_psql(
		'postgres', 'DROP TABLE IF EXISTS public.keys; CREATE TABLE public.keys (id int PRIMARY KEY)');
	$subscriber->safe_psql('postgres',
		'CREATE SUBSCRIPTION sub CONNECTION ' . connstr_literal($primary)
		  . " PUBLICATION pub WITH (create_slot = false, slot_name = 'sub')");

	# Let the copy become ready: the subscription consumes, and a
	# checkpoint gives the slot a restart point with a decoding snapshot.
	$primary->safe_psql('postgres', 'CALL public.load(1, 100); CHECKPOINT');
	$subscriber->poll_query_until('postgres', 'SELECT count(*) = 100 FROM public.keys')
	  or die "the subscription did not start";
	$primary->safe_psql('postgres', 'CHECKPOINT');
	ok(wait_for_copy_state($standby, 'sub', 'ready'), "round $round: the copy is ready");

	# The load, killed mid-way at a point that differs by round.
	my ($out, $err) = ('', '');
	my $load = IPC::Run::start(
		[ 'psql', '-X', '-d', $primary->connstr('postgres'), '-c', 'CALL public.load(101, 1000000)' ],
		'>', \$out, '2>', \$err);
	my $kill_after = 100 + 300 * $round;
	$subscriber->poll_query_until('postgres', "SELECT count(*) >= $kill_after FROM public.keys")
	  or die "the load did not reach the subscriber";
	my $subscriber_log_offset = -s $subscriber->logfile;
	$primary->stop('immediate');
	$load->finish;

	$standby->promote;
	$subscriber->safe_psql('postgres',
		'ALTER SUBSCRIPTION sub CONNECTION ' . connstr_literal($standby));
	$standby->safe_psql('postgres', 'CALL public.load(2000001, 2000100)');

	my $expected = $standby->safe_psql('postgres',
		'SELECT count(*) || \':\' || md5(string_agg(id::text, \',\' ORDER BY id)) FROM public.keys');
	ok( $subscriber->poll_query_until(
			'postgres',
			"SELECT count(*) || ':' || md5(string_agg(id::text, ',' ORDER BY id)) FROM public.keys",
			$expected),
		"round $round: the subscriber has exactly the new primary's rows, killed after $kill_after")
	  or diag 'new primary: ' . $expected . ', subscriber: '
	  . $subscriber->safe_psql('postgres', 'SELECT count(*) FROM public.keys');

	my @errors = apply_errors($subscriber, $subscriber_log_offset);
	is(scalar(@errors), 0, "round $round: no apply error on the subscriber")
	  or diag join("\n", @errors);

	$subscriber->safe_psql('postgres', 'DROP SUBSCRIPTION sub');
	$standby->stop;
}

$subscriber->stop;
done_testing();
