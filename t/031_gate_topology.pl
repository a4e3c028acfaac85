# Copyright (c) 2026, slot_failover developers

# slot_failover.standby_slot_names = '*' follows the topology: a primary
# gates the marked slots' clients on the marked physical slots its
# standbys stream from, and after a failover the promoted node gates on
# its own standby with no setting edited (the settings travel with the
# base backup; auto_mark marks the slots).  The quorum
# (standby_slots_min_confirmed) lets one stalled standby of two go
# unwaited for; a standby that stops streaming is no longer waited for.
# A listed slot that does not exist is named by the status view and by a
# WARNING, at most once a minute per walsender, also when the quorum
# does not need it.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary(
	'primary',
	extension => 1,
	conf => q{
slot_failover.auto_mark = 'logical:pgoutput, !*:*:pg_*_sync_*, physical'
slot_failover.standby_slot_names = '*'
wal_sender_timeout = 0
});
$primary->safe_psql(
	'postgres', q{
CREATE TABLE public.t (id int PRIMARY KEY);
CREATE PUBLICATION pub FOR TABLE public.t;
SELECT pg_create_physical_replication_slot('standby_a', true);
SELECT pg_create_physical_replication_slot('standby_b', true);
});
$primary->backup('backup');
my $a = new_standby($primary, 'backup', 'a', slot => 'standby_a');
my $b = new_standby($primary, 'backup', 'b', slot => 'standby_b');

my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->start;
$subscriber->safe_psql('postgres', 'CREATE TABLE public.t (id int PRIMARY KEY)');
$subscriber->safe_psql('postgres',
	'CREATE SUBSCRIPTION sub CONNECTION ' . connstr_literal($primary) . ' PUBLICATION pub');

my $next = 1;

# insert the next row on $node; returns its id
sub insert
{
	my ($node) = @_;
	$node->safe_psql('postgres', "INSERT INTO public.t VALUES ($next)");
	return $next++;
}

sub received
{
	my ($id) = @_;
	return $subscriber->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM public.t WHERE id = $id");
}

# wait until the walsender of sub on $node waits for $standby
sub waits_for
{
	my ($node, $standby) = @_;
	return $node->poll_query_until('postgres',
		"SELECT gate_waiting AND gate_waiting_for = '$standby' FROM slot_failover.status WHERE slot_name = 'sub'"
	);
}

# stop and continue the walreceiver of $standby: its walsender stays, and
# its slot holds still
sub walreceiver_signal
{
	my ($standby, $signal) = @_;
	my $pid = $standby->safe_psql('postgres', 'SELECT pid FROM pg_stat_wal_receiver');
	die 'no walreceiver' unless $pid;
	kill $signal, $pid;
	return $pid;
}

$primary->poll_query_until('postgres',
	"SELECT count(*) = 3 FROM slot_failover.slots WHERE slot_name IN ('sub', 'standby_a', 'standby_b')"
) or die 'the slots were not marked';
ok(received(insert($primary)), 'with both standbys streaming, the subscriber receives');

##########
# On the primary, '*' waits for every marked standby that streams; the
# quorum lets one of them lag.
##########
my $pid = walreceiver_signal($b, 'STOP');
my $id = insert($primary);
ok(waits_for($primary, 'standby_b'), "'*' waits for the stalled standby's slot");
is($subscriber->safe_psql('postgres', "SELECT count(*) FROM public.t WHERE id = $id"),
	'0', 'the subscriber has not received the row');
$primary->safe_psql('postgres',
	'ALTER SYSTEM SET slot_failover.standby_slots_min_confirmed = 1; SELECT pg_reload_conf()');
ok(received($id), 'with a quorum of 1, the other standby is enough');
$primary->safe_psql('postgres',
	'ALTER SYSTEM RESET slot_failover.standby_slots_min_confirmed; SELECT pg_reload_conf()');
kill 'CONT', $pid;

# a standby that stops streaming is no longer waited for
$b->stop;
ok(received(insert($primary)), "'*' does not wait for a standby that no longer streams");
$b->start;
$primary->poll_query_until('postgres',
	"SELECT active FROM pg_replication_slots WHERE slot_name = 'standby_b'")
  or die 'standby b did not come back';

##########
# Failover to a; b follows a through its slot standby_b, whose copy a kept.
##########
$primary->safe_psql('postgres', 'CHECKPOINT');
ok(received(insert($primary)), 'the subscriber is up to date');
$primary->safe_psql('postgres', 'CHECKPOINT');
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
wait_for_copy_state($a, [ 'sub', 'standby_b' ], 'ready');
my $lsn = $primary->lsn('insert');
$primary->wait_for_catchup($a, 'replay', $lsn);
$primary->wait_for_catchup($b, 'replay', $lsn);
$primary->stop('immediate');
$a->promote;
$b->append_conf('postgresql.conf', "primary_conninfo = '" . $a->connstr . "'\n");
$b->restart;
$a->poll_query_until('postgres',
	"SELECT active FROM pg_replication_slots WHERE slot_name = 'standby_b'")
  or die 'standby b does not stream from a';
$subscriber->safe_psql('postgres',
	'ALTER SUBSCRIPTION sub CONNECTION ' . connstr_literal($a));
ok(received(insert($a)), 'after failover, the subscriber receives from the promoted node');

$pid = walreceiver_signal($b, 'STOP');
$id = insert($a);
ok(waits_for($a, 'standby_b'),
	"the promoted node gates on its own standby, with no setting edited");
is($subscriber->safe_psql('postgres', "SELECT count(*) FROM public.t WHERE id = $id"),
	'0', 'the subscriber has not received the row');
is( $a->safe_psql('postgres',
		"SELECT gate_missing FROM slot_failover.status WHERE slot_name = 'sub'"),
	'{}', 'and names no missing slot: the old primary\'s slots are not waited for');
kill 'CONT', $pid;
ok(received($id), 'once the standby continues, the row arrives');

##########
# An explicit list that still names the promoted node's old upstream slot:
# the status view and a WARNING (once a minute per walsender) name it,
# also while a quorum of 1 lets the rows through.
##########
my $offset = -s $a->logfile;
$a->safe_psql(
	'postgres', q{
ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_a, standby_b';
ALTER SYSTEM SET slot_failover.standby_slots_min_confirmed = 1;
SELECT pg_reload_conf();
});
$a->poll_query_until('postgres',
	"SELECT gate_missing = '{standby_a}' FROM slot_failover.status WHERE slot_name = 'sub'")
  or die 'the status view does not name the missing slot';
pass('the status view names the listed slot that does not exist');
ok(received(insert($a)) && received(insert($a)) && received(insert($a)),
	'a quorum of 1 lets rows through');
my @warnings = grep {
	/WARNING:  replication slot "standby_a" named in "slot_failover.standby_slot_names" does not exist/
} split /\n/, slurp_file($a->logfile, $offset);
is(scalar(@warnings), 1, 'one WARNING names it, not one per message');

$a->safe_psql('postgres',
	'ALTER SYSTEM RESET slot_failover.standby_slots_min_confirmed; SELECT pg_reload_conf()');
$id = insert($a);
ok(waits_for($a, 'standby_a'),
	'waiting for all, the walsender waits for the missing slot, and the status view says which');
$a->safe_psql('postgres',
	'ALTER SYSTEM RESET slot_failover.standby_slot_names; SELECT pg_reload_conf()');
ok(received($id), 'the setting reset, the row arrives');

# bad values
my ($ret, $out, $err) = $a->psql('postgres',
	"ALTER SYSTEM SET slot_failover.standby_slot_names = '*, standby_b'");
like($err, qr/"\*" stands for every marked physical slot a standby streams from, and must be alone/,
	"'*' cannot be mixed with names");
($ret, $out, $err) = $a->psql('postgres',
	'ALTER SYSTEM SET slot_failover.standby_slots_min_confirmed = 0');
like($err, qr/Use -1 to wait for every slot/, 'a quorum of 0 is refused');

done_testing();
