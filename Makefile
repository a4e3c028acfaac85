# slot_failover: carry replication slots across failover through WAL

MODULE_big = slot_failover
OBJS = \
	$(WIN32RES) \
	copies.o \
	files.o \
	functions.o \
	gate.o \
	marker.o \
	primary.o \
	slot_failover.o \
	slots.o \
	snapshot.o \
	standby.o \
	status.o \
	table.o \
	worker.o

EXTENSION = slot_failover
DATA = slot_failover--1.0.sql slot_failover--1.0--1.1.sql
PGFILEDESC = "slot_failover - carry replication slots across failover"

REGRESS = slot_failover decide update
# The worker needs shared_preload_libraries, which only a temporary
# instance can be given; PGXS has no "make check".
REGRESS_OPTS = --temp-config=$(srcdir)/slot_failover.conf --temp-instance=./tmp_check
TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
