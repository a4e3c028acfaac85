# Copyright (c) 2026, slot_failover developers

# The gate holds positions, not only data.  With the failover standby
# stopped, a client of a marked slot that confirms every keepalive's
# position when it has nothing pending (as subscriptions do) must not
# confirm WAL the standby lacks, however much WAL decodes to nothing
# (VACUUM, another database, a checkpoint).  After failover, resumed from
# its own confirmed position, it sees every transaction of the new primary;
# had it confirmed the old primary's later WAL, it would skip them.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

# A libpq client of a logical slot: prints each XLogData's text, and
# answers each keepalive by confirming the larger of its walEnd and what it
# received, printing the keepalive's position and the one it confirmed.
my $client_c = $PostgreSQL::Test::Utils::tmp_check . '/keepalive_client.c';
my $client = $PostgreSQL::Test::Utils::tmp_check . '/keepalive_client';
append_to_file($client_c, <<'EOC');
#include <stdio.h>
#include <stdint.h>
#include <sys/time.h>
#include <libpq-fe.h>

static uint64_t
get64(const char *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | (unsigned char) p[i];
	return v;
}

static void
put64(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (char) (v & 0xff);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn = PQconnectdb(argv[1]);
	char		query[256];
	uint64_t	received = 0;

	snprintf(query, sizeof(query), "START_REPLICATION SLOT %s LOGICAL %s",
			 argv[2], argv[3]);
	if (PQstatus(conn) != CONNECTION_OK ||
		PQresultStatus(PQexec(conn, query)) != PGRES_COPY_BOTH)
	{
		fprintf(stderr, "%s", PQerrorMessage(conn));
		return 1;
	}
	for (;;)
	{
		char	   *buf;
		int			len = PQgetCopyData(conn, &buf, 0);

		if (len < 0)
		{
			fprintf(stderr, "%s", PQerrorMessage(conn));
			return 0;
		}
		if (buf[0] == 'w' && len >= 25)
		{
			uint64_t	lsn = get64(buf + 1);

			printf("data %.*s\n", len - 25, buf + 25);
			if (lsn > received)
				received = lsn;
		}
		else if (buf[0] == 'k' && len >= 17)
		{
			uint64_t	pos = get64(buf + 1);
			char		reply[34] = {'r'};
			struct timeval now;

			printf("keepalive %X/%X\n", (unsigned) (pos >> 32), (unsigned) pos);
			if (received > pos)
				pos = received;
			put64(reply + 1, pos);
			put64(reply + 9, pos);
			put64(reply + 17, pos);
			gettimeofday(&now, NULL);
			put64(reply + 25, (uint64_t) (now.tv_sec - 946684800) * 1000000 + now.tv_usec);
			if (PQputCopyData(conn, reply, sizeof(reply)) != 1 || PQflush(conn) != 0)
				return 1;
			printf("confirmed %X/%X\n", (unsigned) (pos >> 32), (unsigned) pos);
		}
		fflush(stdout);
		PQfreemem(buf);
	}
}
EOC
my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
my ($includedir, $libdir) = (`$pg_config --includedir`, `$pg_config --libdir`);
chomp($includedir, $libdir);
IPC::Run::run([ 'cc', '-o', $client, $client_c, "-I$includedir", "-L$libdir", '-lpq' ])
  or die 'could not compile the test client';

# The extension lives in another database, whose WAL (the worker's rows
# included) the client's slot decodes to nothing.
my $primary = new_primary('primary', conf => "slot_failover.database = 'other'\n");
$primary->safe_psql('postgres', 'CREATE DATABASE other');
$primary->safe_psql('other', 'CREATE EXTENSION slot_failover; CREATE TABLE t (id int)');
$primary->safe_psql(
	'postgres', q{
CREATE TABLE public.t (id int PRIMARY KEY);
CREATE TABLE public.big (id int) WITH (autovacuum_enabled = off);
INSERT INTO public.big SELECT generate_series(1, 200000);
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT pg_create_logical_replication_slot('client', 'test_decoding');
});
$primary->safe_psql('other', "SELECT slot_failover.mark('client')");
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby', slot => 'standby_slot');
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot'; SELECT pg_reload_conf()");

# Wait until the walsender of $slot has read up to $lsn (past $what), and
# its client has answered a keepalive sent since.
sub read_past_and_answered
{
	my ($slot, $lsn, $what) = @_;
	my $walsender = qq{FROM pg_stat_replication r
JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '$slot'};

	ok($primary->poll_query_until('postgres', "SELECT r.sent_lsn >= '$lsn' $walsender"),
		"the walsender of $slot read past $what");
	my $after = $primary->safe_psql('postgres', 'SELECT now()');
	ok($primary->poll_query_until('postgres', "SELECT r.reply_time > '$after' $walsender"),
		'and its client answered a keepalive since');
	return;
}

# its output goes to a file: a pipe nobody reads would stop it
my $client_out = $primary->basedir . '/client.out';
my $h = IPC::Run::start(
	[ $client, $primary->connstr('postgres') . ' replication=database', 'client', '0/0' ],
	'>', $client_out, '2>>', $client_out);
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
my $lsn = $primary->lsn('insert');
ok( $primary->poll_query_until(
		'postgres', "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'client'"),
	'with the standby up, the client confirms everything');
$primary->safe_psql('other', 'SELECT slot_failover.sync()');
ok( $standby->poll_query_until(
		'other', "SELECT state = 'ready' FROM slot_failover.status WHERE slot_name = 'client'"),
	'the copy is ready on the standby');

##########
# A keepalive tells a record end only.  A standby's flush position may
# fall inside a record, and a client that confirms a position inside a
# commit record and resumes from it never gets that transaction.  A
# listed slot that stops inside a large record stands for such a standby.
##########
$primary->safe_psql(
	'postgres', q{
SELECT pg_create_physical_replication_slot('halfway', true);
SELECT pg_create_logical_replication_slot('resumer', 'test_decoding');
ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot, halfway';
SELECT pg_reload_conf();
});
$primary->safe_psql('other', "SELECT slot_failover.mark('resumer')");
# a walsender forked from now on has the new list
$primary->poll_query_until('postgres',
	"SELECT current_setting('slot_failover.standby_slot_names') = 'standby_slot, halfway'");
my $resumer_out = $primary->basedir . '/resumer.out';
my $resumer = IPC::Run::start(
	[ $client, $primary->connstr('postgres') . ' replication=database', 'resumer', '0/0' ],
	'>', $resumer_out, '2>>', $resumer_out);
# a record of 100 kB that the slot decodes to nothing (another database)
my $record_end = $primary->safe_psql('other',
	"SELECT pg_logical_emit_message(true, 'big', repeat('x', 100000))");
$primary->safe_psql('postgres',
	"SELECT pg_replication_slot_advance('halfway', '$record_end'::pg_lsn - 50000)");
read_past_and_answered('resumer', $record_end, 'the large record');
# two more keepalives: the second was sent after the walsender had read
# past the record (lowered keepalives that tell nothing new are 100 ms
# apart)
my $keepalives = () = slurp_file($resumer_out) =~ /^keepalive/mg;
ok( $primary->poll_query_until(
		'postgres', qq{
SELECT count(*) >= $keepalives + 2
FROM regexp_matches(pg_read_file('$resumer_out'), '^keepalive', 'gn')}),
	'the client received keepalives since');
my @inside = grep {
	$primary->safe_psql('postgres',
		"SELECT '$_'::pg_lsn > '$record_end'::pg_lsn - 100000 AND '$_'::pg_lsn < '$record_end'")
	  eq 't'
} slurp_file($resumer_out) =~ /^keepalive (\S+)$/mg;
is(join(',', @inside), '', 'no keepalive told a position inside the record');
$primary->safe_psql('postgres',
	"SELECT pg_replication_slot_advance('halfway', pg_current_wal_flush_lsn())");
ok( $primary->poll_query_until(
		'postgres',
		"SELECT confirmed_flush_lsn >= '$record_end' FROM pg_replication_slots WHERE slot_name = 'resumer'"),
	'once the listed slots have the whole record, the client confirms past it');
$resumer->kill_kill;
$primary->safe_psql('other', "SELECT slot_failover.unmark('resumer')");
$primary->poll_query_until('postgres',
	"SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'resumer'");
$primary->safe_psql(
	'postgres', q{
SELECT pg_drop_replication_slot('resumer');
SELECT pg_drop_replication_slot('halfway');
ALTER SYSTEM SET slot_failover.standby_slot_names = 'standby_slot';
SELECT pg_reload_conf();
});

##########
# The gate holds what a message contains, not only the position in its
# header: a transaction's change rows, whose records the standby has,
# wait with its commit, which the standby lacks.
##########
my $session = $primary->background_psql('postgres');
$session->query_safe('BEGIN');
$session->query_safe("INSERT INTO public.t VALUES ($_)") for 101 .. 105;
$primary->wait_for_catchup($standby, 'flush', $primary->lsn('insert'));
$standby->stop;
$session->query_safe('COMMIT');
my $commit = $primary->lsn('insert');
ok( $primary->poll_query_until(
		'other', "SELECT gate_waiting FROM slot_failover.status WHERE slot_name = 'client'"),
	'the walsender holds the transaction');
# it sends a keepalive every second while it waits, after whatever it had
# written before (its replies wait, so the client's file tells)
my $answered = () = slurp_file($client_out) =~ /^confirmed/mg;
ok( $primary->poll_query_until(
		'postgres', qq{
SELECT count(*) > $answered FROM regexp_matches(pg_read_file('$client_out'), '^confirmed', 'gn')}),
	'the client received a keepalive sent during the wait');
unlike(slurp_file($client_out), qr/id\[integer\]:10[1-5]/,
	'no row of the held transaction reached the client');
$standby->start;
ok( $primary->poll_query_until(
		'postgres', "SELECT confirmed_flush_lsn >= '$commit' FROM pg_replication_slots WHERE slot_name = 'client'"),
	'once the standby is back, the client gets the transaction');
is(join(',', slurp_file($client_out) =~ /id\[integer\]:(10[1-5])/g),
	'101,102,103,104,105', 'all of its rows');
$session->quit;

$primary->wait_for_catchup($standby, 'flush', $primary->lsn('insert'));
$standby->stop;
my $standby_flushed = $primary->safe_psql('postgres',
	"SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'standby_slot'");

##########
# WAL that decodes to nothing: the walsender reads it and sends keepalives.
##########
$primary->safe_psql('postgres', 'VACUUM (FREEZE) public.big');
$primary->safe_psql('other', 'INSERT INTO t SELECT generate_series(1, 1000)');
$primary->safe_psql('postgres', 'CHECKPOINT');
read_past_and_answered('client', $primary->lsn('insert'),
	'the WAL that decodes to nothing');
my $confirmed = $primary->safe_psql('postgres',
	"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'client'");
ok( $primary->safe_psql('postgres', "SELECT '$confirmed'::pg_lsn <= '$standby_flushed'"
	) eq 't',
	"the client confirmed $confirmed, not past what the standby flushed ($standby_flushed)");

##########
# Failover: the client resumes from its own confirmed position.
##########
$primary->stop('immediate');
$h->finish;
my ($resume) = slurp_file($client_out) =~ /.*^confirmed (\S+)$/ms
  or die 'the client confirmed nothing';
$standby->start;
$standby->promote;
$standby->safe_psql('postgres', "INSERT INTO public.t VALUES ($_)") for 2 .. 6;
my $new_end = $standby->lsn('insert');
my $out_after = $standby->basedir . '/after.out';
IPC::Run::run(
	[ 'pg_recvlogical', '-d', $standby->connstr('postgres'), '-S', 'client',
	  '--start', '-I', $resume, '-E', $new_end, '-f', $out_after, '--no-loop' ])
  or die 'pg_recvlogical failed against the new primary';
my @rows = slurp_file($out_after) =~ /table public\.t: INSERT: id\[integer\]:(\d+)/g;
is(join(',', @rows), '2,3,4,5,6',
	"resumed from $resume, the client sees every transaction of the new primary");

$standby->stop;
done_testing();
