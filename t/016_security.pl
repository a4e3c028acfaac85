# Copyright (c) 2026, slot_failover developers

# The worker runs as the bootstrap superuser in slot_failover.database,
# which a non-superuser may own.  The owner puts operators of its own, for
# every type the worker compares, in a schema first on the database's
# search_path (ALTER DATABASE ... SET, which every new session of that
# database inherits, the worker's too).  Once the workers have restarted
# and a marked slot moved, so that the primary's cycle writes its row and
# the standby's cycle reads it, the owner's code has not run as superuser:
# the owner is not a superuser, and neither node logged the owner's code
# running as one.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

my $primary = new_primary('primary', conf => "slot_failover.database = 'appdb'");
$primary->safe_psql('postgres',
	'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app');

# Our own sessions in appdb must not run the owner's operators either.
sub appdb
{
	my ($node, $sql) = @_;
	return $node->safe_psql('appdb', "SET search_path = pg_catalog; $sql");
}

appdb($primary, 'CREATE EXTENSION slot_failover');
$primary->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('phys', true)");
appdb($primary, "SELECT slot_failover.mark('phys')");

$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby');

##########
# The attack: the owner's operators, one for each type the worker
# compares, run its code with the caller's rights.  Run by a superuser, it
# says so in the log and, where it can write, makes the owner a superuser.
##########
my $attack = q{
CREATE SCHEMA app;
CREATE FUNCTION app.escalate() RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
	IF current_setting('is_superuser') = 'on' THEN
		RAISE WARNING 'HIJACKED: the owner''s code runs as superuser %', current_user;
		IF NOT pg_is_in_recovery() THEN
			ALTER ROLE app SUPERUSER;
		END IF;
	END IF;
END $$;
};
for my $type (qw(text name pg_lsn xid int8 bool))
{
	$attack .= qq{
CREATE FUNCTION app.eq($type, $type) RETURNS bool LANGUAGE plpgsql
SET search_path = pg_catalog AS \$\$
BEGIN
	PERFORM app.escalate();
	RETURN \$1 = \$2;
END \$\$;
CREATE OPERATOR app.= (LEFTARG = $type, RIGHTARG = $type, FUNCTION = app.eq);
};
}
$attack .= 'ALTER DATABASE appdb SET search_path = app, pg_catalog;';

# Settings that would make the worker run as the owner, or stop it:
# serializable transactions cannot run on a hot standby, read-only ones
# cannot write the table.
$attack .= q{
ALTER DATABASE appdb SET role = app;
ALTER DATABASE appdb SET default_transaction_isolation = serializable;
ALTER DATABASE appdb SET default_transaction_read_only = on;
ALTER DATABASE appdb SET lock_timeout = '1ms';
ALTER DATABASE appdb SET statement_timeout = '1ms';
};
$primary->safe_psql('appdb', $attack, extra_params => [ '-U', 'app' ]);

# Our own sessions override those settings from the client.
$ENV{PGOPTIONS} = join ' ', '-c search_path=pg_catalog', '-c role=none',
  '-c default_transaction_isolation=read\\ committed',
  '-c default_transaction_read_only=off', '-c lock_timeout=0',
  '-c statement_timeout=0';
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

# The setting reaches new sessions only: restart both workers (the launcher
# starts a new one after 5 s).
for my $node ($primary, $standby)
{
	my $old = appdb($node, 'SELECT pid FROM slot_failover.worker');
	appdb($node, "SELECT pg_terminate_backend($old)");
	$node->poll_query_until('appdb',
		"SELECT pid IS NOT NULL AND pid OPERATOR(pg_catalog.<>) $old FROM slot_failover.worker"
	) or die $node->name . ': the worker did not restart';
}

# A transaction, then the slot moves: the primary's cycle updates the row,
# and the standby's reads it and moves its copy.
$primary->safe_psql('postgres', 'CREATE TABLE public.t (id int)');
my $lsn = $primary->safe_psql('postgres',
	"SELECT pg_replication_slot_advance('phys', pg_current_wal_lsn()) IS NOT NULL; SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'phys'"
);
$lsn = (split /\n/, $lsn)[1];
my $sync_lsn = appdb($primary, 'SELECT slot_failover.sync()');
is( appdb($primary,
		"SELECT restart_lsn FROM slot_failover.slots WHERE slot_name OPERATOR(pg_catalog.=) 'phys'"),
	$lsn,
	'the primary recorded the move');

$primary->wait_for_catchup($standby, 'replay', $sync_lsn);
ok( $standby->poll_query_until('postgres',
		"SELECT restart_lsn = '$lsn' FROM pg_replication_slots WHERE slot_name = 'phys'"),
	'the standby moved its copy');

is($primary->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'app'"),
	'f', 'the owner of the database is not a superuser');
for my $node ($primary, $standby)
{
	unlike(slurp_file($node->logfile), qr/WARNING:  HIJACKED/,
		$node->name . ": the owner's code never ran as superuser");
	is(appdb($node, 'SELECT last_error FROM slot_failover.worker'),
		'', $node->name . ": the worker's cycles do not fail");
}

##########
# A schema named slot_failover that another role owns: CREATE EXTENSION
# would adopt it, and its owner could put a view named slots there whose
# functions run as the worker.
##########
$primary->safe_psql('postgres', 'CREATE DATABASE appdb2 OWNER app');
$primary->safe_psql('appdb2', 'CREATE SCHEMA slot_failover',
	extra_params => [ '-U', 'app' ]);
my ($ret, $stdout, $stderr) =
  $primary->psql('appdb2', 'CREATE EXTENSION slot_failover');
like(
	$stderr,
	qr/ERROR:  schema "slot_failover" is not owned by a superuser/,
	'CREATE EXTENSION refuses a schema that another role owns');

# One that a 1.0 installation adopted: the worker refuses to use it, and
# the owner's view never runs as superuser.
appdb($primary, 'ALTER SCHEMA slot_failover OWNER TO app');
$primary->safe_psql(
	'appdb', q{
ALTER SCHEMA slot_failover RENAME TO sf_real;
CREATE SCHEMA slot_failover;
CREATE VIEW slot_failover.slots AS
	SELECT s.* FROM sf_real.slots s WHERE (SELECT app.escalate() IS NULL);
}, extra_params => [ '-U', 'app' ]);
my $offset = -s $primary->logfile;
$primary->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'slot_failover worker'"
);
$primary->wait_for_log(
	qr/ERROR:  schema "slot_failover" is owned by role "app", which is not a superuser/,
	$offset);
is($primary->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'app'"),
	'f', 'the owner of the adopted schema is not a superuser');
unlike(slurp_file($primary->logfile), qr/WARNING:  HIJACKED/,
	"the owner's view never ran as superuser");

done_testing();
