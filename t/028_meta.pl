# Copyright (c) 2026, slot_failover developers

# META.json, the PGXN metadata: it follows the PGXN Meta Spec 1.0.0 (the
# keys it requires and allows, and the form of each value this file
# uses), and the version it gives the extension is the control file's
# default_version, as is the distribution's.  No server is started.
use strict;
use warnings FATAL => 'all';
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;

my $src = "$FindBin::RealBin/..";
my $meta = decode_json(slurp_file("$src/META.json"));
my ($default_version) =
  slurp_file("$src/slot_failover.control") =~ /^default_version\s*=\s*'([^']*)'/m;

# SemVer as the spec 1.0.0 knows it, and a version range of prereqs
my $semver = qr/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$/;
my $range = qr/^(0|(?:(?:[<>]=?|==|!=)\s*)?\d+\.\d+\.\d+(?:-[0-9A-Za-z-]+)?)$/;
my $term = qr{^[^\s/\\:[:cntrl:]]{2,}$};

my %required = map { $_ => 1 } qw(name version abstract maintainer license provides meta-spec);
my %optional = map { $_ => 1 }
  qw(description generated_by tags no_index prereqs release_status resources);
ok(!(grep { !exists $meta->{$_} } keys %required), 'every required key is present');
is_deeply([ grep { !$required{$_} && !$optional{$_} && !/^[xX]_/ } keys %$meta ],
	[], 'no key the spec does not know');

is($meta->{'meta-spec'}{version}, '1.0.0', 'meta-spec 1.0.0');
like($meta->{name}, $term, 'name is a term');
like($meta->{version}, $semver, 'version is a SemVer');
ok(!ref $meta->{abstract} && length $meta->{abstract}, 'abstract is a string');
ok(
	!(grep { ref $_ || !length $_ }
		ref $meta->{maintainer} ? @{ $meta->{maintainer} } : ($meta->{maintainer})),
	'maintainer is a string or a list of them');
is($meta->{license}, 'postgresql', 'license: postgresql');
like($meta->{release_status}, qr/^(stable|testing|unstable)$/, 'release_status is known');
ok(!(grep { ref $_ || length $_ > 255 || !length $_ } @{ $meta->{tags} }),
	'tags are strings');

my $ext = $meta->{provides}{slot_failover};
ok($ext, 'provides the extension slot_failover');
ok(-f "$src/$ext->{file}", "its file $ext->{file} exists");
ok(!defined $ext->{docfile} || -f "$src/$ext->{docfile}", 'so does its docfile');
like($ext->{version}, $semver, 'its version is a SemVer');

my @relations;
for my $phase (keys %{ $meta->{prereqs} })
{
	like($phase, qr/^(configure|build|test|runtime|develop)$/, "prereqs phase $phase");
	for my $relation (keys %{ $meta->{prereqs}{$phase} })
	{
		like($relation, qr/^(requires|recommends|suggests|conflicts)$/,
			"prereqs relation $phase.$relation");
		push @relations, values %{ $meta->{prereqs}{$phase}{$relation} };
	}
}
ok(!(grep { !/$range/ } map { split /\s*,\s*/ } @relations),
	'every prereq version is 0, a version or a range of them');
like($meta->{prereqs}{runtime}{requires}{PostgreSQL},
	qr/^>= 15\.0\.0\b/, 'runtime requires PostgreSQL 15 or later');

ok( !(grep { !/^(homepage|bugtracker|repository|[xX]_\w+)$/ }
		keys %{ $meta->{resources} }),
	'resources are of the kinds the spec knows');

##########
# In step with the control file.
##########
(my $as_semver = $default_version) =~ s/^(\d+\.\d+)$/$1.0/;
is($ext->{version}, $as_semver,
	"the extension's version is the control file's default_version ($default_version)");
is($meta->{version}, $as_semver, "so is the distribution's");

done_testing();
