# Copyright (c) 2026, slot_failover developers

# What the benchmarks of bench/ share besides the nodes and waits of
# t/SlotFailoverTest.pm: the settings of a primary configured like a
# production server rather than like a test, marked slots created in bulk,
# percentiles, the WAL the worker wrote in a window (read with pg_waldump),
# a process's CPU time, and the writer of each bench's section of
# bench/results/.
package SlotFailoverBench;

use strict;
use warnings FATAL => 'all';
use Exporter 'import';
use FindBin;
use IPC::Run;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(bench_settings mark_new_slots start_consumer percentile
  median wal_window_start wal_window_end cpu_seconds write_result);

# The options of new_primary (t/SlotFailoverTest.pm) for a bench's primary,
# configured like a production server rather than like a test:
# slot_failover's default naptime, autovacuum on, and the extension created.
# The harness sets fsync off and logs every statement, and leaves 1 MB of
# shared buffers: all three would distort the figures.  A standby made from
# a backup of this primary has the same settings.  Options: max_slots
# (max_replication_slots, default 20), conf (appended); any other option is
# new_primary's.
sub bench_settings
{
	my (%opts) = @_;
	my $max_slots = delete $opts{max_slots} // 20;
	my $conf = delete $opts{conf} // '';

	return (
		naptime => undef,
		autovacuum => 1,
		extension => 1,
		%opts,
		conf => qq{
fsync = on
log_statement = none
shared_buffers = 128MB
max_connections = 50
max_wal_senders = 20
max_wal_size = 1GB
max_replication_slots = $max_slots
} . $conf);
}

# Create the physical slots ${prefix}_$from .. ${prefix}_$to, reserving WAL,
# and mark them.
sub mark_new_slots
{
	my ($node, $prefix, $from, $to) = @_;
	$node->safe_psql(
		'postgres', qq{
SELECT count(pg_create_physical_replication_slot('${prefix}_' || i, true))
FROM generate_series($from, $to) AS i;
SELECT count(slot_failover.mark('${prefix}_' || i)) FROM generate_series($from, $to) AS i;
});
	return;
}

# Start pg_recvlogical on the logical slot $slot of $node, writing to
# /dev/null and confirming what it received every second (by default it
# confirms every 10 s).  Returns the IPC::Run harness.
sub start_consumer
{
	my ($node, $slot) = @_;
	return IPC::Run::start(
		[
			'pg_recvlogical', '--dbname', $node->connstr('postgres'),
			'--slot', $slot, '--start', '--file', '/dev/null',
			'--fsync-interval', '1', '--status-interval', '1', '--no-loop'
		]);
}

# The p-th percentile (nearest rank) of a list of numbers.
sub percentile
{
	my ($p, @values) = @_;
	my @sorted = sort { $a <=> $b } @values;
	return $sorted[ int($p / 100.0 * $#sorted + 0.5) ];
}

sub median { return percentile(50, @_); }

# Start watching the WAL of $node: returns the insert position.  The slot
# wal_window holds the WAL from there until wal_window_end has read it.
sub wal_window_start
{
	my ($node) = @_;
	$node->safe_psql('postgres',
		"SELECT pg_create_physical_replication_slot('wal_window', true)");
	return $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
}

# The WAL of $node since wal_window_start returned $start, read with
# pg_waldump.  slot_failover's share is every record that touches its
# table (heap, TOAST, indexes: updates, pruning, full-page images) and
# every other record, such as the commit, of a transaction that did.
# Returns a hash: total (bytes of WAL in the window), bytes and
# transactions (slot_failover's).
sub wal_window_end
{
	my ($node, $start) = @_;
	my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
	$node->poll_query_until('postgres',
		"SELECT pg_current_wal_flush_lsn() >= '$end'")
	  or die "WAL up to $end was not flushed";
	my ($total, $dboid, @nodes) = split /\n/, $node->safe_psql(
		'postgres', qq{
SELECT pg_wal_lsn_diff('$end', '$start')::bigint;
SELECT oid FROM pg_database WHERE datname = current_database();
SELECT pg_relation_filenode(r) FROM (
	SELECT c.oid FROM pg_class c WHERE c.oid = 'slot_failover.slots'::regclass
	UNION ALL SELECT c.reltoastrelid FROM pg_class c WHERE c.oid = 'slot_failover.slots'::regclass
	UNION ALL SELECT i.indexrelid FROM pg_index i, pg_class c
		WHERE c.oid = 'slot_failover.slots'::regclass AND i.indrelid IN (c.oid, c.reltoastrelid)
) AS s(r) WHERE r <> 0;
});
	my %ours = map { $_ => 1 } @nodes;

	my ($out, $err) = ('', '');
	if ($start ne $end)
	{
		IPC::Run::run(
			[
				'pg_waldump', '--path', $node->data_dir . '/pg_wal',
				'--start', $start, '--end', $end
			],
			'>', \$out, '2>', \$err)
		  or die "pg_waldump failed: $err";
	}
	$node->safe_psql('postgres',
		"SELECT pg_drop_replication_slot('wal_window')");

	my (@records, %xids);
	for (split /\n/, $out)
	{
		my ($len, $xid) = m{len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+)}
		  or next;
		my $touches = grep { $ours{$_} } m{rel \d+/$dboid/(\d+)}g;
		push @records, [ $len, $xid, $touches ];
		$xids{$xid} = 1 if $touches && $xid;
	}
	my $bytes = 0;
	$bytes += $_->[0] for grep { $_->[2] || $xids{ $_->[1] } } @records;
	return {
		total => $total,
		bytes => $bytes,
		transactions => scalar(keys %xids)
	};
}

# CPU seconds (user and system) the process $pid has used so far.
sub cpu_seconds
{
	my ($pid) = @_;
	my $stat = slurp_file("/proc/$pid/stat");
	# fields 14 and 15, counted from 1, in clock ticks; field 2 may hold spaces
	my @fields = split ' ', substr($stat, rindex($stat, ')') + 2);
	return ($fields[11] + $fields[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK);
}

# The machine and PostgreSQL, in one line.
sub environment
{
	my ($cpu) = slurp_file('/proc/cpuinfo') =~ /^model name\s*:\s*(.*)$/m;
	my ($kb) = slurp_file('/proc/meminfo') =~ /^MemTotal:\s*(\d+)/m;
	my ($cores, $version) = (`nproc`, `postgres --version`);
	chomp($cores, $version);
	return sprintf('%s × %s, %.0f GB RAM; %s',
		$cores, $cpu // 'unknown CPU', $kb / 1024 / 1024, $version);
}

# Write the section of bench $name, headed $title, into the results
# directory (SF_BENCH_OUT, by default bench/results), and print it.
# $name.md holds the markdown, $name.tsv the data of a plot (option tsv),
# $name.goals one line per goal: what, measured, met or missed (option
# goals, a list of [what, measured, met]).
sub write_result
{
	my ($name, $title, $body, %opts) = @_;
	my $dir = $ENV{SF_BENCH_OUT} // "$FindBin::RealBin/results";
	my $when = POSIX::strftime('%Y-%m-%d %H:%M %Z', localtime);
	my $markdown = "## $title\n\nMachine: " . environment() . "  \nRun: $when\n\n$body";
	my $goals = '';

	for my $goal (@{ $opts{goals} // [] })
	{
		my ($what, $measured, $met) = @$goal;
		my $verdict = $met ? 'met' : 'missed';
		$goals .= "$what\t$measured\t$verdict\n";
		$markdown .= "\n- goal $what: measured $measured, **$verdict**";
	}
	$markdown .= "\n" if $goals;

	mkdir $dir unless -d $dir;
	write_file("$dir/$name.md", $markdown);
	write_file("$dir/$name.tsv", $opts{tsv}) if $opts{tsv};
	write_file("$dir/$name.goals", $goals) if $goals;
	diag $markdown;
	return;
}

sub write_file
{
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "could not write $path: $!";
	print $fh $text;
	close $fh or die "could not write $path: $!";
	return;
}

1;
