# Copyright (c) 2026, slot_failover developers

# The worker's life around the extension: without preload the functions
# refuse with a hint; the worker waits calmly for its database and for
# CREATE EXTENSION; it survives DROP EXTENSION and follows a new one.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

##########
# Without shared_preload_libraries, CREATE EXTENSION works and mark()
# explains what is missing.
##########
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init(allows_streaming => 'logical');
$plain->start;
$plain->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
SELECT pg_create_physical_replication_slot('physical');
});
my ($ret, $stdout, $stderr) =
  $plain->psql('postgres', q{SELECT slot_failover.mark('physical')});
like(
	$stderr,
	qr/ERROR:  slot_failover must be loaded via "shared_preload_libraries".*HINT:  Add slot_failover to "shared_preload_libraries"/s,
	'mark() without preload says how to fix it');
is($plain->safe_psql('postgres', 'SELECT count(*) FROM slot_failover.slots'),
	'0', 'and records nothing');
$plain->stop;

##########
# The worker waits for its database, saying so once.
##########
my $node = PostgreSQL::Test::Cluster->new('node');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'slot_failover'
slot_failover.database = 'later'
slot_failover.naptime = 50ms
});
$node->start;

$node->wait_for_log(qr/slot_failover is waiting for database "later" to be created/);
$node->safe_psql('postgres', 'CREATE DATABASE later');
$node->wait_for_log(qr/slot_failover is not installed in database "later"; the worker waits for it/);
my $log = slurp_file($node->logfile);
my $said = () = $log =~ /waiting for database "later"/g;
is($said, 1, 'the missing database is logged once');
unlike($log, qr/FATAL/, 'no worker failed while waiting');

($ret, $stdout, $stderr) = $node->psql('postgres',
	q{CREATE EXTENSION slot_failover; SELECT slot_failover.sync()});
like(
	$stderr,
	qr/ERROR:  slot_failover can only be used in database "later"/,
	'the functions refuse a database the worker does not follow');

##########
# CREATE EXTENSION, mark, DROP EXTENSION, and again: the worker follows.
##########
$node->safe_psql(
	'later', q{
CREATE EXTENSION slot_failover;
SELECT pg_create_physical_replication_slot('physical', true);
SELECT slot_failover.mark('physical');
});
my $pid = $node->safe_psql('later', 'SELECT pid FROM slot_failover.worker');
like($pid, qr/^\d+$/, 'the worker runs');

$node->safe_psql('later', 'DROP EXTENSION slot_failover');
# a slot that moves makes the worker look at the table that is gone
$node->safe_psql('later',
	q{SELECT pg_replication_slot_advance('physical', pg_current_wal_lsn())});
$node->safe_psql(
	'later', q{
CREATE EXTENSION slot_failover;
SELECT slot_failover.mark('physical');
SELECT pg_replication_slot_advance('physical', pg_current_wal_lsn());
});
ok( $node->poll_query_until(
		'later', q{
SELECT s.restart_lsn = r.restart_lsn
FROM slot_failover.slots s JOIN pg_replication_slots r USING (slot_name)}),
	'the worker follows the new extension');
is( $node->safe_psql('later', 'SELECT pid, last_error FROM slot_failover.worker'),
	"$pid|",
	'the same worker, without an error, survived DROP EXTENSION');

$node->stop;
done_testing();
