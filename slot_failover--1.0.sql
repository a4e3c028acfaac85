/* slot_failover--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION slot_failover" to load this file. \quit

-- The contract with every standby: one row per marked replication slot,
-- holding all a standby needs to keep an exact copy of it.  Only the
-- extension writes it; a row makes every standby pin WAL.
CREATE TABLE slot_failover.slots (
	slot_name			name PRIMARY KEY,
	slot_identity		bigint NOT NULL CHECK (slot_identity > 0),
	slot_type			text NOT NULL CHECK (slot_type IN ('logical', 'physical')),
	datoid				oid,
	database			name,
	plugin				name,
	two_phase			boolean NOT NULL,
	restart_lsn			pg_lsn,
	confirmed_flush_lsn	pg_lsn,
	catalog_xmin		xid,
	slot_xmin			xid,
	invalidated			boolean NOT NULL,
	system_identifier	bigint NOT NULL,
	timeline			integer NOT NULL,
	snapshot			bytea,
	marked_at			timestamptz NOT NULL,
	updated_at			timestamptz NOT NULL,
	CHECK ((slot_type = 'logical') =
		   (datoid IS NOT NULL AND database IS NOT NULL AND plugin IS NOT NULL))
) WITH (
	-- room on the page keeps every update HOT
	fillfactor = 50,
	-- an autoanalyze is a transaction, which would make the worker write
	-- again: the statistics of a table this small are of no use anyway
	autovacuum_analyze_threshold = 2147483647
);

COMMENT ON TABLE slot_failover.slots IS
	'replication slots marked for failover, as last recorded by the primary';
COMMENT ON COLUMN slot_failover.slots.slot_identity IS
	'changes when a slot of the same name is dropped and created again';
COMMENT ON COLUMN slot_failover.slots.snapshot IS
	'the decoding snapshot the primary serialized at restart_lsn, for a logical slot';

REVOKE ALL ON slot_failover.slots FROM PUBLIC;

-- Everything below is protected one by one; the schema itself is open.
GRANT USAGE ON SCHEMA slot_failover TO PUBLIC;

CREATE FUNCTION slot_failover.mark(slot_name name)
RETURNS void
AS 'MODULE_PATHNAME', 'slot_failover_mark'
LANGUAGE C VOLATILE;

CREATE FUNCTION slot_failover.unmark(slot_name name)
RETURNS void
AS 'MODULE_PATHNAME', 'slot_failover_unmark'
LANGUAGE C VOLATILE;

CREATE FUNCTION slot_failover.sync()
RETURNS pg_lsn
AS 'MODULE_PATHNAME', 'slot_failover_sync'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION slot_failover.worker_status(
	OUT pid integer,
	OUT role text,
	OUT started_at timestamptz,
	OUT cycles bigint,
	OUT rows_written bigint,
	OUT last_cycle_at timestamptz,
	OUT last_cycle_ms double precision,
	OUT last_write_at timestamptz,
	OUT last_error text,
	OUT last_error_at timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'slot_failover_worker_status'
LANGUAGE C VOLATILE STRICT;

REVOKE ALL ON FUNCTION slot_failover.mark(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION slot_failover.unmark(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION slot_failover.sync() FROM PUBLIC;
REVOKE ALL ON FUNCTION slot_failover.worker_status() FROM PUBLIC;

CREATE FUNCTION slot_failover.copy_status(
	OUT slot_name name,
	OUT state text,
	OUT reason text,
	OUT changed_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'slot_failover_copy_status'
LANGUAGE C VOLATILE STRICT;

REVOKE ALL ON FUNCTION slot_failover.copy_status() FROM PUBLIC;

CREATE FUNCTION slot_failover.gate_status(
	OUT slot_name name,
	OUT waiting_for name,
	OUT since timestamptz,
	OUT lsn pg_lsn)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'slot_failover_gate_status'
LANGUAGE C VOLATILE STRICT;

REVOKE ALL ON FUNCTION slot_failover.gate_status() FROM PUBLIC;

-- One row per marked slot: what the table records next to the live slot
-- of this node, in the style of pg_stat_replication.  On a primary the
-- live slot is the marked slot, ahead of the table, and gate_* say whether
-- its walsender waits for a standby; on a standby it is the copy, behind
-- the table, and state says whether it is ready.
CREATE VIEW slot_failover.status AS
SELECT
	s.slot_name,
	s.slot_type,
	s.database,
	s.plugin,
	CASE WHEN pg_catalog.pg_is_in_recovery() THEN 'standby' ELSE 'primary' END
		AS node_role,
	c.state,
	c.reason,
	c.changed_at AS state_changed_at,
	r.restart_lsn,
	r.confirmed_flush_lsn,
	r.catalog_xmin,
	r.xmin,
	s.restart_lsn AS written_restart_lsn,
	s.confirmed_flush_lsn AS written_confirmed_flush_lsn,
	s.catalog_xmin AS written_catalog_xmin,
	s.slot_xmin AS written_xmin,
	s.updated_at AS written_at,
	CASE WHEN pg_catalog.pg_is_in_recovery() THEN
		pg_catalog.pg_wal_lsn_diff(
			COALESCE(s.confirmed_flush_lsn, s.restart_lsn),
			COALESCE(r.confirmed_flush_lsn, r.restart_lsn))
	ELSE
		pg_catalog.pg_wal_lsn_diff(
			COALESCE(r.confirmed_flush_lsn, r.restart_lsn),
			COALESCE(s.confirmed_flush_lsn, s.restart_lsn))
	END::bigint AS lag_bytes,
	g.slot_name IS NOT NULL AS gate_waiting,
	g.waiting_for AS gate_waiting_for,
	g.since AS gate_since,
	g.lsn AS gate_lsn
FROM slot_failover.slots AS s
	LEFT JOIN pg_catalog.pg_replication_slots AS r
		ON r.slot_name = s.slot_name AND NOT r.temporary
	LEFT JOIN slot_failover.copy_status() AS c
		ON c.slot_name = s.slot_name
	LEFT JOIN slot_failover.gate_status() AS g
		ON g.slot_name = s.slot_name;

-- The worker, in one row.
CREATE VIEW slot_failover.worker AS
SELECT * FROM slot_failover.worker_status();

REVOKE ALL ON slot_failover.status FROM PUBLIC;
REVOKE ALL ON slot_failover.worker FROM PUBLIC;
GRANT EXECUTE ON FUNCTION slot_failover.worker_status() TO pg_monitor;
GRANT EXECUTE ON FUNCTION slot_failover.copy_status() TO pg_monitor;
GRANT EXECUTE ON FUNCTION slot_failover.gate_status() TO pg_monitor;
GRANT SELECT ON slot_failover.status TO pg_monitor;
GRANT SELECT ON slot_failover.worker TO pg_monitor;
