# Copyright (c) 2026, slot_failover developers

# An upgrade from the 1.0 package, as an operator runs it.  A private copy
# of the PostgreSQL installation holds the library and scripts of 1.0,
# built from the commit that released it; a primary and a streaming
# standby run them, with a logical and a physical slot marked and their
# copies ready.  Then this tree's installed files are put over them as a
# package upgrade does (each file renamed into place), and:
#  - ALTER EXTENSION UPDATE while the servers still run the 1.0 library
#    fails and changes nothing, and that library keeps working;
#  - the standby restarted first, with the new library and the 1.0
#    objects: its worker refuses, naming ALTER EXTENSION slot_failover
#    UPDATE, and keeps its copies;
#  - the primary restarted: its worker, mark() and sync() refuse the same
#    way, and the rows stay as they are;
#  - ALTER EXTENSION slot_failover UPDATE on the primary: the rows and
#    marks of 1.0 are kept (same identities, same marker files), both
#    workers follow the slots again, the copies become ready at the new
#    positions, and new marks work.
# (sql/update.sql checks that the updated objects equal a fresh install.)
#
# Needs the git history of this source tree, found in SF_GIT_DIR or in
# the tree's .git; skipped without it.
use strict;
use warnings FATAL => 'all';
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SlotFailoverTest;

# the last commit of 1.0 (before "Start version 1.1 of the SQL objects")
my $commit_1_0 = '8a04e00eb0b44744d3667d97fa26c83b6bfbfbe1';
my $git_dir = $ENV{SF_GIT_DIR} // "$FindBin::RealBin/../.git";
plan skip_all => '1.0 was built for PostgreSQL 15 only'
  unless `pg_config --version` =~ /^PostgreSQL 15\./;
plan skip_all => "the git history with 1.0 ($commit_1_0) is not at $git_dir"
  unless system("git --git-dir='$git_dir' cat-file -e $commit_1_0^{commit} 2>/dev/null")
  == 0;

my $tmp = PostgreSQL::Test::Utils::tempdir;

# Build 1.0 from its sources (not the make we run under: its MAKEFLAGS
# carry our command line's variables).
my $v1_0 = "$tmp/1.0";
mkdir $v1_0 or die "mkdir $v1_0: $!";
system("git --git-dir='$git_dir' archive $commit_1_0 | tar -x -C '$v1_0'") == 0
  or die "could not extract $commit_1_0";
{
	local %ENV = %ENV;
	delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};
	PostgreSQL::Test::Utils::system_or_bail('make', '-s', '-C', $v1_0,
		'with_llvm=no', 'PG_CONFIG=pg_config');
}

# A copy of the installation under test whose binaries find its own
# library and share directories (PostgreSQL locates them relative to its
# executables): binaries copied, the rest symbolic links.
my %dir = map { $_ => scalar(`pg_config --$_`) =~ s/\n//r } qw(bindir pkglibdir sharedir);
my @parts = map { [ split m{/} ] } values %dir;
my $common = 0;
$common++
  while $common < $#{ $parts[0] }
  && !grep { ($_->[$common] // '') ne $parts[0][$common] } @parts;
my $root = join '/', @{ $parts[0] }[ 0 .. $common - 1 ];
my %copy = map { $_ => "$tmp/inst" . substr($dir{$_}, length $root) } keys %dir;
for my $d (keys %dir)
{
	make_path(dirname($copy{$d}));
	PostgreSQL::Test::Utils::system_or_bail('cp', $d eq 'bindir' ? '-a' : '-as',
		$dir{$d}, $copy{$d});
}

# Put the extension's files of $from (library dir, extension dir) into the
# copy, each written aside and renamed into place as dpkg does, and drop
# the scripts $from lacks.
sub install_files
{
	my ($libdir, $extdir) = @_;
	my @files = ("$libdir/slot_failover.so",
		glob("$extdir/slot_failover.control $extdir/slot_failover--*.sql"));
	unlink glob("$copy{sharedir}/extension/slot_failover--*.sql");
	for my $f (@files)
	{
		my $to = ($f =~ /\.so$/ ? $copy{pkglibdir} : "$copy{sharedir}/extension")
		  . '/' . ($f =~ s{.*/}{}r);
		copy($f, "$to.new") or die "copy $f: $!";
		rename("$to.new", $to) or die "rename $to: $!";
	}
}
install_files($v1_0, $v1_0);

# The nodes, on the copy.
my $primary = PostgreSQL::Test::Cluster->new('primary', install_path => dirname($copy{bindir}));
$primary->init(allows_streaming => 'logical');
$primary->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'slot_failover'
slot_failover.naptime = 50ms
autovacuum = off
});
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION slot_failover;
CREATE TABLE public.t (id int PRIMARY KEY);
SELECT pg_create_physical_replication_slot('standby_slot', true);
SELECT pg_create_logical_replication_slot('logi', 'test_decoding');
SELECT pg_create_physical_replication_slot('phys', true);
SELECT slot_failover.mark('logi');
SELECT slot_failover.mark('phys');
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby', install_path => dirname($copy{bindir}));
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->append_conf(
	'postgresql.conf', q{
primary_slot_name = 'standby_slot'
hot_standby_feedback = on
});
$standby->start;

my $version = q{SELECT extversion FROM pg_extension WHERE extname = 'slot_failover'};
my $rows = q{SELECT slot_name, slot_identity, restart_lsn, confirmed_flush_lsn
	FROM slot_failover.slots ORDER BY slot_name};
my $marker = sub { slurp_file($primary->data_dir . "/pg_replslot/$_[0]/slot_failover.id") };

is($primary->safe_psql('postgres', $version), '1.0', 'the cluster runs 1.0');
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (1)');
make_copy_ready($primary, $standby, [ 'logi', 'phys' ]);
my %identity = map { split /\|/ }
  split /\n/, $primary->safe_psql('postgres', 'SELECT slot_name, slot_identity FROM slot_failover.slots');
my %markers = map { $_ => $marker->($_) } qw(logi phys);

##########
# The package is upgraded; the servers still run the 1.0 library.
##########
install_files($dir{pkglibdir}, "$dir{sharedir}/extension");

my ($ret, $stdout, $stderr) =
  $primary->psql('postgres', 'ALTER EXTENSION slot_failover UPDATE');
isnt($ret, 0, 'ALTER EXTENSION UPDATE fails while the 1.0 library is loaded');
like($stderr, qr/could not find function "slot_failover_\w+"/,
	'... because the new objects need functions of the new library');
is($primary->safe_psql('postgres', $version), '1.0', '... and changes nothing');

$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (2)');
my $moved = move_slots($primary, 'logi');
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
is( $primary->safe_psql('postgres',
		"SELECT confirmed_flush_lsn FROM slot_failover.slots WHERE slot_name = 'logi'"),
	$moved->{logi},
	'the 1.0 library still records the slots');

##########
# The standby is restarted first: new library, 1.0 objects.
##########
my $hint = qr/HINT:  Run ALTER EXTENSION slot_failover UPDATE in database "postgres" on the primary\./;
my $offset = -s $standby->logfile;
$standby->restart;
$standby->wait_for_log(
	qr/ERROR:  the SQL objects of slot_failover are older than its library\n.*\n.*$hint/,
	$offset);
pass("the standby's worker refuses, naming ALTER EXTENSION slot_failover UPDATE");
is( $standby->safe_psql('postgres', 'SELECT last_error FROM slot_failover.worker'),
	'the SQL objects of slot_failover are older than its library',
	'... which slot_failover.worker shows');
is( $standby->safe_psql('postgres',
		"SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots"),
	'logi,phys',
	'... and it keeps its copies');

##########
# The primary is restarted: new library, 1.0 objects.
##########
$offset = -s $primary->logfile;
$primary->restart;
$primary->wait_for_log(
	qr/ERROR:  the SQL objects of slot_failover are older than its library\n.*\n.*$hint/,
	$offset);
pass("the primary's worker refuses, naming ALTER EXTENSION slot_failover UPDATE");
$primary->safe_psql('postgres',
	"SELECT pg_create_logical_replication_slot('after', 'test_decoding')");
($ret, $stdout, $stderr) = $primary->psql('postgres', "SELECT slot_failover.mark('after')");
like($stderr, $hint, 'mark() refuses, naming it too');
($ret, $stdout, $stderr) = $primary->psql('postgres', 'SELECT slot_failover.sync()');
like($stderr, qr/older than its library/, 'sync() refuses');
my $before = $primary->safe_psql('postgres', $rows);
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (3)');
$moved = move_slots($primary, [ 'logi', 'phys' ]);
is($primary->safe_psql('postgres', $rows), $before, 'the rows are left as they were');

##########
# ALTER EXTENSION slot_failover UPDATE on the primary.
##########
$primary->safe_psql('postgres', 'ALTER EXTENSION slot_failover UPDATE');
is($primary->safe_psql('postgres', $version), '1.1', 'the update runs');
$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
is( $primary->safe_psql('postgres',
		"SELECT string_agg(slot_name || '=' || slot_identity || ' at ' || coalesce(confirmed_flush_lsn, restart_lsn), ',' ORDER BY slot_name) FROM slot_failover.slots"
	),
	"logi=$identity{logi} at $moved->{logi},phys=$identity{phys} at $moved->{phys}",
	"the rows keep 1.0's identities and follow the slots again");
is_deeply({ map { $_ => $marker->($_) } qw(logi phys) },
	\%markers, "the marker files are 1.0's");
$primary->safe_psql('postgres', "SELECT slot_failover.mark('after')");

# the standby gets the new objects through WAL, and syncs again
$primary->safe_psql('postgres', 'INSERT INTO public.t VALUES (4)');
make_copy_ready($primary, $standby, [ 'logi', 'phys', 'after' ], replay => 1);
is( $standby->safe_psql('postgres',
		"SELECT string_agg(slot_name || ' at ' || coalesce(confirmed_flush_lsn, restart_lsn), ',' ORDER BY slot_name) FROM pg_replication_slots"
	),
	$primary->safe_psql('postgres',
		"SELECT string_agg(slot_name || ' at ' || coalesce(confirmed_flush_lsn, restart_lsn), ',' ORDER BY slot_name) FROM pg_replication_slots WHERE slot_name <> 'standby_slot'"
	),
	"the standby's copies, old marks and new, are ready at the primary's positions");

done_testing();
