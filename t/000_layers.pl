# Copyright (c) 2026, slot_failover developers

# Calls between slot_failover's C files flow one way, in the order that
# slot_failover.c's header gives: a file calls only the files in the layers
# below its own.  Read from the object files of the build, with nm: every
# object file must have a layer, and no file may call a function defined
# in its own layer or above.
use strict;
use warnings FATAL => 'all';
use Test::More;

my @layers = (
	[qw(slot_failover)],
	[qw(functions)],
	[qw(worker)],
	[qw(primary standby)],
	[qw(copies)],
	[qw(gate)],
	[qw(table slots marker snapshot status)],
	[qw(files)]);

my %layer;
for my $i (0 .. $#layers)
{
	$layer{$_} = $i for @{ $layers[$i] };
}

my $dir = $ENV{TESTDIR} // '.';
my @objects = map { m{([^/]+)\.o$} ? $1 : () } glob("$dir/*.o");
isnt(scalar(@objects), 0, 'the object files of the build are there');
is(join(' ', grep { !exists $layer{$_} } sort @objects),
	'', 'every object file has a layer');

# which file defines each global function
my %defined_in;
for my $file (@objects)
{
	for (`nm --defined-only $dir/$file.o`)
	{
		my (undef, $type, $symbol) = split;
		$defined_in{$symbol} = $file if defined $symbol && $type eq 'T';
	}
}

my @upward;
for my $file (sort @objects)
{
	for (`nm --undefined-only $dir/$file.o`)
	{
		my (undef, $symbol) = split;
		my $callee = $defined_in{$symbol // ''};
		next unless defined $callee && $callee ne $file;
		push @upward, "$file.c calls $symbol() of $callee.c"
		  unless $layer{$callee} > $layer{$file};
	}
}
is(join("\n", @upward), '', 'no file calls a file of its own layer or above');

done_testing();
