# Copyright (c) 2026, slot_failover developers

# slot_failover.auto_mark: the worker marks every persistent slot its rules
# match (type, plugin, name pattern; "!" excludes), also slots created
# after the setting (a subscription's) and slots dropped and created again
# under the same name; an explicit unmark() is remembered until the slot
# is dropped, across a crash, and only if its transaction commits; an idle
# worker writes nothing; bad rules are refused at ALTER SYSTEM and at
# reload.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', standby_slot => 1);
$primary->safe_psql('postgres', 'CREATE PUBLICATION pub FOR TABLE public.t');
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby',
	slot => 'standby_slot');
my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->start;
$subscriber->safe_psql('postgres', 'CREATE TABLE public.t (id int PRIMARY KEY)');

# the marked slots, as the table says after a full cycle of the worker
sub marked
{
	$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
	return $primary->safe_psql('postgres',
		"SELECT string_agg(slot_name, ' ' ORDER BY slot_name) FROM slot_failover.slots");
}

sub set_rules
{
	my ($rules) = @_;
	$primary->safe_psql('postgres',
		"ALTER SYSTEM SET slot_failover.auto_mark = '$rules'; SELECT pg_reload_conf()");
	$primary->poll_query_until('postgres',
		"SELECT current_setting('slot_failover.auto_mark') = '$rules'")
	  or die 'the new rules did not arrive';
}

# create the subscription sub_one, and wait until its slot is marked
sub subscribe_and_wait
{
	$subscriber->safe_psql('postgres',
		'CREATE SUBSCRIPTION sub_one CONNECTION ' . connstr_literal($primary)
		  . ' PUBLICATION pub');
	return $primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM slot_failover.slots WHERE slot_name = 'sub_one'");
}

sub identity
{
	my ($slot) = @_;
	return $primary->safe_psql('postgres',
		"SELECT slot_identity FROM slot_failover.slots WHERE slot_name = '$slot'");
}

##########
# Bad rules are refused, with the reason.
##########
for my $case (
	[ 'logical:pgoutput:sub_%', qr/"sub_%" is not a slot name pattern.*HINT:.*not %/s ],
	[ 'logical:pgoutput:sub_*:x', qr/more than three fields/ ],
	[ 'physical:pgoutput:*', qr/a physical slot has no output plugin/ ],
	[ 'slots:*:*', qr/the slot type must be logical, physical or \*, not "slots"/ ],
	[ 'logical,,physical', qr/A rule is empty/ ],
	[ 'logical::x', qr/empty, blank or too long field/ ])
{
	my ($rules, $why) = @$case;
	my ($ret, $out, $err) = $primary->psql('postgres',
		"ALTER SYSTEM SET slot_failover.auto_mark = '$rules'");
	like($err,
		qr/invalid value for parameter "slot_failover.auto_mark": "\Q$rules\E".*DETAIL:.*$why/s,
		"ALTER SYSTEM refuses '$rules'");
}
my $offset = -s $primary->logfile;
$primary->append_conf('postgresql.conf', "slot_failover.auto_mark = 'logical:pgoutput:sub_%'\n");
$primary->reload;
ok( $primary->wait_for_log(
		qr/invalid value for parameter "slot_failover.auto_mark": "logical:pgoutput:sub_%"/,
		$offset),
	'a reload with bad rules logs why');
is($primary->safe_psql('postgres', 'SHOW slot_failover.auto_mark'),
	'', 'and keeps the rules it had');
$primary->adjust_conf('postgresql.conf', 'slot_failover.auto_mark', "''");
$primary->reload;

##########
# Each rule: type, plugin, name pattern, exclusion.  Slots created before
# the setting are marked as well as those created after it.
##########
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_logical_replication_slot('sub_early', 'pgoutput');
SELECT pg_create_logical_replication_slot('sub_decoding', 'test_decoding');
SELECT pg_create_logical_replication_slot('other', 'pgoutput');
SELECT pg_create_logical_replication_slot('sub_nomark', 'pgoutput');
SELECT pg_create_physical_replication_slot('standby_two', true);
SELECT pg_create_physical_replication_slot('backup_slot', true);
});
is(marked(), '', 'nothing is marked while auto_mark is empty');

set_rules('logical:pgoutput:sub_*, physical:*:standby_*, !*:*:*_nomark');
is( marked(),
	'standby_slot standby_two sub_early',
	'the rules mark existing slots by type, plugin and name, and exclude');
$primary->safe_psql('postgres',
	"SELECT pg_create_logical_replication_slot('sub_temporary', 'pgoutput', true)");
is( marked(),
	'standby_slot standby_two sub_early',
	'a temporary slot is not marked');

ok(subscribe_and_wait(),
	'the slot of a subscription created after the setting is marked');
ok(wait_for_copy_state($standby, 'sub_one'), 'and the standby copies it');

##########
# A slot dropped and created again under the same name is marked again:
# a new slot, with a new identity.
##########
my $before = identity('sub_early');
$primary->safe_psql(
	'postgres', q{
SELECT pg_drop_replication_slot('sub_early');
SELECT pg_create_logical_replication_slot('sub_early', 'pgoutput');
});
$primary->poll_query_until('postgres',
	"SELECT slot_identity <> $before FROM slot_failover.slots WHERE slot_name = 'sub_early'")
  or die 'the re-created slot was not marked';
pass('a slot dropped and created again is marked again, as a new slot');

##########
# An explicit unmark() is remembered until the slot is dropped: through
# full cycles of the worker, a crash, and a reload of the rules; an
# unmark() rolled back is not.
##########
$primary->safe_psql('postgres', "SELECT slot_failover.unmark('sub_one')");
is( marked(),
	'standby_slot standby_two sub_early',
	'a slot unmarked explicitly stays unmarked');
$primary->safe_psql('postgres',
	"BEGIN; SELECT slot_failover.unmark('standby_two'); SELECT slot_failover.mark('standby_two'); COMMIT");
$primary->stop('immediate');
$primary->start;
# (every subscription slot, but the short-lived ones of table synchronization)
set_rules('logical:pgoutput:*, physical, !*:*:pg_*_sync_*');
is( marked(),
	'backup_slot other standby_slot standby_two sub_early sub_nomark',
	'after a crash and new rules, the unmarked slot is still unmarked; one marked again in the same transaction is marked'
);
$primary->safe_psql('postgres', "SELECT slot_failover.mark('sub_one')");
is( marked(),
	'backup_slot other standby_slot standby_two sub_early sub_nomark sub_one',
	'mark() marks it again');
$primary->safe_psql('postgres', "SELECT slot_failover.unmark('sub_one')");
is( marked(),
	'backup_slot other standby_slot standby_two sub_early sub_nomark',
	'unmark() again');

# an idle worker with an unmarked slot that the rules match writes nothing
my ($rows, $cycles) = split /\|/,
  $primary->safe_psql('postgres', 'SELECT rows_written, cycles FROM slot_failover.worker');
my $lsn = $primary->lsn('insert');
$primary->poll_query_until('postgres',
	"SELECT cycles > $cycles + 20 FROM slot_failover.worker")
  or die 'the worker did not cycle';
is($primary->safe_psql('postgres', 'SELECT rows_written FROM slot_failover.worker'),
	$rows, 'an idle worker writes no row');
is( $primary->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slot_failover worker' AND backend_xid IS NOT NULL"
	),
	'0',
	'and holds no xid');

# dropping the slot forgets the unmark: the subscription made anew is marked
$subscriber->safe_psql('postgres', 'DROP SUBSCRIPTION sub_one');
ok(subscribe_and_wait(), 'a slot unmarked, dropped and created again is marked');

# Created again, the extension has no rows: the worker marks every slot
# the rules match, but one unmarked explicitly; an unmark() rolled back
# counts for nothing.
$primary->safe_psql(
	'postgres', q{
SELECT slot_failover.unmark('sub_nomark');
BEGIN;
SELECT slot_failover.unmark('sub_early');
ROLLBACK;
DROP EXTENSION slot_failover;
CREATE EXTENSION slot_failover;
});
is( marked(),
	'backup_slot other standby_slot standby_two sub_early sub_one',
	'with the extension created again, every matching slot is marked again but the one unmarked explicitly'
);

# off again: new slots stay unmarked
set_rules('');
$primary->safe_psql('postgres',
	"SELECT pg_create_logical_replication_slot('sub_late', 'pgoutput')");
unlike(marked(), qr/sub_late/, 'with the rules emptied, a new slot is not marked');

done_testing();
