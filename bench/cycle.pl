# Copyright (c) 2026, slot_failover developers

# Duration of one worker cycle against the number of marked slots (1, 10,
# 100, 1,000 physical slots), as the worker itself reports it
# (slot_failover.worker.last_cycle_ms).  The naptime is 60 s, so that only
# slot_failover.sync() runs a cycle; every sample checks that sync() ran
# exactly one cycle and that it did what the sample is about:
#   - primary, writing: every slot was advanced; the cycle updates every row;
#   - primary, idle: nothing moved; the cycle writes nothing;
#   - standby, moving: the rows were replayed; the cycle moves every copy;
#   - standby, idle: nothing new; the cycle reads every row, moves nothing
#     (what a standby does whenever replay moved but no row changed).
# Environment: SF_BENCH_SAMPLES (default 20), SF_BENCH_SLOTS (1,10,100,1000).
# Not a test: run it with bench/run cycle.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin, "$FindBin::RealBin/../t";
use SlotFailoverTest;
use SlotFailoverBench;

my $samples = $ENV{SF_BENCH_SAMPLES} // 20;
my @counts = split /,/, ($ENV{SF_BENCH_SLOTS} // '1,10,100,1000');
my $goal_ms = 10;

my $primary = new_primary('primary',
	bench_settings(max_slots => $counts[-1] + 20, naptime => '60s'));
$primary->safe_psql('postgres', 'CREATE TABLE bench (i int)');
$primary->backup('backup');
my $standby = new_standby($primary, 'backup', 'standby');

# One cycle run by sync() on $node: its duration in ms, and the position
# sync() returned.  Dies unless sync() ran exactly one cycle, and $count (an
# SQL expression) grew by $expected meanwhile.
sub sample
{
	my ($node, $what, $count, $expected) = @_;
	my ($before, $lsn, $after) = split /\n/, $node->safe_psql(
		'postgres', qq{
SELECT cycles, $count FROM slot_failover.worker;
SELECT slot_failover.sync();
SELECT cycles, $count, last_cycle_ms FROM slot_failover.worker;
});
	my ($cycles0, $count0) = split /\|/, $before;
	my ($cycles1, $count1, $ms) = split /\|/, $after;
	my $where = $node->name . ", $what";
	die "$where: sync() ran " . ($cycles1 - $cycles0) . " cycles, not one"
	  unless $cycles1 == $cycles0 + 1;
	die "$where: the cycle did " . ($count1 - $count0) . ", not $expected"
	  unless $count1 - $count0 == $expected;
	return ($ms, $lsn);
}

my @kinds = qw(primary_writing primary_idle standby_moving standby_idle);
my %label = (
	primary_writing => 'primary, writing every row',
	primary_idle => 'primary, nothing to write',
	standby_moving => 'standby, moving every copy',
	standby_idle => 'standby, nothing to move');
my ($table, $tsv, $marked) = ('', '', 0);
my %at;    # kind => slot count => median
for my $n (@counts)
{
	mark_new_slots($primary, 'cycle', $marked + 1, $n);
	$marked = $n;
	# the marks' commits wake the worker: let that cycle pass first
	$primary->safe_psql('postgres', 'SELECT slot_failover.sync()');
	my %ms;
	for my $i (0 .. $samples)
	{
		my $target = $primary->safe_psql(
			'postgres', q{
INSERT INTO bench VALUES (1);
SELECT max(lsn) FROM pg_replication_slots,
	LATERAL pg_replication_slot_advance(slot_name, pg_current_wal_lsn()) AS a(name, lsn)
WHERE slot_name LIKE 'cycle\_%';
});
		my $moved = "(SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'cycle\\_%' AND restart_lsn >= '$target')";
		my ($writing, $lsn) = sample($primary, 'writing', 'rows_written', $n);
		my ($idle) = sample($primary, 'idle', 'rows_written', 0);
		$primary->wait_for_catchup($standby, 'replay', $lsn);
		# the first round creates the new copies, and is no sample
		if ($i == 0)
		{
			$standby->safe_psql('postgres', 'SELECT slot_failover.sync()');
			$standby->safe_psql('postgres',
				"SELECT count(*) FROM slot_failover.status WHERE state = 'ready' AND slot_name LIKE 'cycle\\_%'"
			) == $n or die "the copies of $n slots are not ready";
			next;
		}
		push @{ $ms{primary_writing} }, $writing;
		push @{ $ms{primary_idle} }, $idle;
		push @{ $ms{standby_moving} }, (sample($standby, 'moving', $moved, $n))[0];
		push @{ $ms{standby_idle} }, (sample($standby, 'idle', $moved, 0))[0];
	}

	my @row;
	for my $kind (@kinds)
	{
		my @p = (median(@{ $ms{$kind} }), percentile(90, @{ $ms{$kind} }));
		$at{$kind}{$n} = $p[0];
		push @row, @p;
	}
	$table .= sprintf("| %d |" . (" %.2f / %.2f |" x 4) . "\n", $n, @row);
	$tsv .= join("\t", $n, map { sprintf '%.3f', $_ } @row) . "\n";
}

my ($small, $large) = @counts[ -2, -1 ];
my @goals;
for my $kind (@kinds)
{
	my $ms = $at{$kind}{$large};
	my $growth = $ms / $at{$kind}{$small};
	push @goals,
	  [
		"$label{$kind}: ≤ $goal_ms ms at $large slots",
		sprintf('%.2f ms', $ms), $ms <= $goal_ms
	  ],
	  [
		"$label{$kind}: grows at most linearly, ${small} → ${large} slots (×"
		  . $large / $small
		  . ', +10 % for noise)',
		sprintf('×%.1f', $growth), $growth <= 1.1 * $large / $small
	  ];
}

my $header = join ' | ', @label{@kinds};
write_result(
	'cycle', 'Cycle time by number of marked slots', qq{Duration of one worker cycle in ms (median / p90 of $samples cycles), as
slot_failover.worker reports it; every cycle run by sync() with a naptime
of 60 s, and checked to be the one that did the work.  A standby runs the
cycle "nothing to move" whenever replay moved but no row changed; when
replay has not moved, its cycle returns at once.

| slots | $header |
|------:|------:|------:|------:|------:|
$table},
	tsv => "# slots" . join('', map { "\t${_}_p50\t${_}_p90" } @kinds) . "\n$tsv",
	goals => \@goals);
ok(1, 'bench ran');
done_testing();
