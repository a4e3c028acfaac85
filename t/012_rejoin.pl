# Copyright (c) 2026, slot_failover developers

# The old primary rejoins and follows the new primary; nothing needs a
# manual drop and nothing blocks the sync (CloudNativePG #9969).
# - After a kill -9 failover it is rewound with pg_rewind, which removes
#   its slots: its copies are made anew and become ready.
# - After a planned switchover it rejoins as it is: its own marked slot,
#   whose identity the new primary's row still has, is a ready copy at
#   once, and a slot it unmarked is left alone.
use strict;
use warnings FATAL => 'all';
use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $old = new_primary('old');
$old->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE public.t (id int);
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT pg_create_logical_replication_slot('cdc', 'test_decoding');
SELECT slot_failover.mark('standby_slot');
SELECT slot_failover.mark('cdc');
});
$old->backup('backup');
my $new = new_standby($old, 'backup', 'new', slot => 'standby_slot');
$old->safe_psql('postgres',
	"ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot'; SELECT pg_reload_conf()");

$old->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
ok(make_copy_ready($old, $new, 'cdc'), 'the copy of cdc is ready');
my $identity = $old->safe_psql('postgres',
	"SELECT slot_identity FROM slot_failover.slots WHERE slot_name = 'cdc'");

# Kill -9 failover; the new primary moves on.
$old->stop('immediate');
$new->promote;
$new->safe_psql(
	'postgres', q{
SELECT pg_create_physical_replication_slot('old_slot', true);
INSERT INTO public.t VALUES (2);
CHECKPOINT;
});

##########
# Rewind the old primary and make it a standby of the new one.
##########
my $conf = $old->data_dir . '/postgresql.conf';
copy($conf, $old->basedir . '/postgresql.conf.keep') or die "copy: $!";
command_ok(
	[ 'pg_rewind', '--target-pgdata', $old->data_dir,
	  '--source-server', $new->connstr('postgres') ],
	'pg_rewind brings the old primary back');
copy($old->basedir . '/postgresql.conf.keep', $conf) or die "copy: $!";
unlink($old->data_dir . '/postgresql.auto.conf');
$old->append_conf(
	'postgresql.conf', qq{
primary_conninfo = '@{[ $new->connstr ]}'
primary_slot_name = 'old_slot'
hot_standby_feedback = on
});
$old->set_standby_mode;
$old->start;

ok(wait_for_copy_state($old, 'cdc', undef), 'the rewound old primary makes a copy of cdc');
is( $old->safe_psql(
		'postgres', "SELECT slot_identity FROM slot_failover.slots WHERE slot_name = 'cdc'"),
	$identity,
	'the row kept the identity cdc always had');

# The copy becomes ready and follows the new primary's slot.
$new->safe_psql('postgres', 'INSERT INTO public.t VALUES (3)');
my $confirmed = move_slots($new, 'cdc')->{cdc};
$new->safe_psql('postgres', 'SELECT slot_failover.sync()');
ok( wait_for_copy_state(
		$old, 'cdc', 'ready', also => "confirmed_flush_lsn = '$confirmed'"),
	'it becomes ready and follows the new primary\'s slot');

##########
# Planned switchover back: the new primary stops cleanly and rejoins as a
# standby as it is, with its slots.  (Its standby_slot_names still names
# old_slot, which the rewound node streams from.)
##########
$new->safe_psql(
	'postgres', q{
SELECT pg_create_physical_replication_slot('leftover', true);
SELECT slot_failover.mark('leftover');
});
sync_standby($new, $old);
$new->safe_psql('postgres', "SELECT slot_failover.unmark('leftover')");
my $log_offset = -s $new->logfile;
$new->stop;
$old->promote;
$old->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('new_slot', true)");
$new->append_conf(
	'postgresql.conf', qq{
primary_conninfo = '@{[ $old->connstr ]}'
primary_slot_name = 'new_slot'
});
$new->set_standby_mode;
$new->start;
$old->safe_psql('postgres', 'SELECT slot_failover.sync()');
ok(wait_for_copy_state($new, 'cdc', 'ready'),
	'after a switchover, its own slot cdc is a ready copy by itself');
unlike(slurp_file($new->logfile, $log_offset), qr/created copy of replication slot "cdc"/,
	'without being made anew');
is( $new->safe_psql(
		'postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'leftover'"),
	'1',
	'its slot that was unmarked is no longer slot_failover\'s, and left alone');

$new->stop;
$old->stop;
done_testing();
