/* slot_failover--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION slot_failover UPDATE TO '1.1'" to load this file. \quit

-- The worker reads and writes slot_failover.slots as a superuser: a schema
-- of that name that another role created before the extension (which
-- CREATE EXTENSION adopts) would let that role put code in its way.
DO $$
BEGIN
	IF NOT (SELECT r.rolsuper
			FROM pg_catalog.pg_namespace AS n
				JOIN pg_catalog.pg_roles AS r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
			WHERE n.nspname OPERATOR(pg_catalog.=) 'slot_failover') THEN
		RAISE EXCEPTION 'schema "slot_failover" is not owned by a superuser'
			USING HINT = 'Drop that schema, or give it to a superuser with ALTER SCHEMA slot_failover OWNER TO, and create the extension again.';
	END IF;
END
$$;

-- The position from which a two_phase slot decodes prepared transactions
-- at PREPARE time; a copy needs it to decode a transaction prepared before
-- failover and committed after it exactly once.
ALTER TABLE slot_failover.slots ADD COLUMN two_phase_at pg_lsn;

-- ---------------------------------------------------------------------
-- Gated SQL decoding (gate.c).  PostgreSQL 17 holds its SQL decoding
-- functions behind synchronized_standby_slots; PostgreSQL 15 offers no
-- place to wait inside them, so these wrappers bound them instead: they
-- never return or confirm a transaction the standbys of
-- slot_failover.standby_slot_names have not flushed.  On a slot that is
-- not gated they are the core functions.  Like those, they run with the
-- caller's rights, and the caller needs the REPLICATION attribute.
-- ---------------------------------------------------------------------

CREATE FUNCTION slot_failover.gate_position(slot_name name)
RETURNS pg_lsn
AS 'MODULE_PATHNAME', 'slot_failover_gate_position'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION slot_failover.gate_position(name) IS
	'how far a SQL consumer may read a marked logical slot: what every slot of standby_slot_names flushed (0/0 if one is unusable); NULL if the slot is not gated';

-- How far a gated function may decode: gated is false, and upto is
-- upto_lsn, for a slot that is not gated; otherwise upto is the position
-- of the last row the standbys have, NULL if there is none.
--
-- Why this is safe.  Decoding up to U stops after the first record whose
-- end is at or past U, and a row's lsn is its change's start, or for a
-- commit (or prepare) the end of its record.  Let S be what the standbys
-- flushed.  A peek up to S emits every transaction whose commit ends
-- before S, and at most one more: the one whose commit record crosses S
-- (starts before, ends after); that commit's row lies past S and is
-- dropped, its earlier rows are not.  Let C be the greatest lsn kept.
--  - C is a commit's end: decoding up to C stops right after that commit
--    record, so it emits exactly the transactions committed by C <= S and
--    confirms C.
--  - C is the start of a record R (a change, a begin, a non-transactional
--    message): decoding up to C stops at the record before R if that one
--    ends exactly at C, else after R.  The crossing commit, if any, comes
--    after R and is not decoded, so its transaction is neither returned nor
--    confirmed: it comes again next time, whole.  R ends before that
--    commit starts, so before S; only a non-transactional message or a
--    streamed change that itself crosses S ends past it, and then the slot
--    is confirmed up to that record's end, as the walsender gate lets such
--    a row go once its record's start is flushed.
-- The consuming call decodes the same WAL from the same slot state as the
-- peek, so it stops at the same place or, with upto_nchanges, earlier.
CREATE FUNCTION slot_failover.gated_upto(slot_name name, upto_lsn pg_lsn,
	upto_nchanges integer, options text[], OUT gated boolean, OUT upto pg_lsn)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	safe pg_lsn := slot_failover.gate_position(slot_name);
BEGIN
	gated := safe IS NOT NULL;
	IF NOT gated THEN
		upto := upto_lsn;
		RETURN;
	END IF;
	-- 0/0 means no limit to the core functions, and nothing to us
	IF safe OPERATOR(pg_catalog.=) '0/0'::pg_catalog.pg_lsn THEN
		RETURN;
	END IF;
	IF upto_lsn OPERATOR(pg_catalog.=) '0/0'::pg_catalog.pg_lsn THEN
		upto_lsn := NULL;
	END IF;
	-- binary: it accepts every output plugin, and only lsn is looked at
	SELECT pg_catalog.max(c.lsn) INTO upto
	FROM pg_catalog.pg_logical_slot_peek_binary_changes(slot_name,
		LEAST(upto_lsn, safe), upto_nchanges, VARIADIC options) AS c
	WHERE c.lsn OPERATOR(pg_catalog.<=) safe;
END
$$;

-- The gated functions: the core function, called only if gated_upto()
-- lets something through, and up to where it says.  (The condition is on
-- g alone, so it is checked before the lateral call.)
CREATE FUNCTION slot_failover.get_changes(slot_name name, upto_lsn pg_lsn,
	upto_nchanges integer, VARIADIC options text[] DEFAULT '{}',
	OUT lsn pg_lsn, OUT xid xid, OUT data text)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT c.* FROM slot_failover.gated_upto($1, $2, $3, $4) AS g,
	LATERAL pg_catalog.pg_logical_slot_get_changes($1, g.upto, $3, VARIADIC $4) AS c
WHERE NOT (g.gated AND g.upto IS NULL)
$$;

CREATE FUNCTION slot_failover.peek_changes(slot_name name, upto_lsn pg_lsn,
	upto_nchanges integer, VARIADIC options text[] DEFAULT '{}',
	OUT lsn pg_lsn, OUT xid xid, OUT data text)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT c.* FROM slot_failover.gated_upto($1, $2, $3, $4) AS g,
	LATERAL pg_catalog.pg_logical_slot_peek_changes($1, g.upto, $3, VARIADIC $4) AS c
WHERE NOT (g.gated AND g.upto IS NULL)
$$;

CREATE FUNCTION slot_failover.get_binary_changes(slot_name name, upto_lsn pg_lsn,
	upto_nchanges integer, VARIADIC options text[] DEFAULT '{}',
	OUT lsn pg_lsn, OUT xid xid, OUT data bytea)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT c.* FROM slot_failover.gated_upto($1, $2, $3, $4) AS g,
	LATERAL pg_catalog.pg_logical_slot_get_binary_changes($1, g.upto, $3, VARIADIC $4) AS c
WHERE NOT (g.gated AND g.upto IS NULL)
$$;

CREATE FUNCTION slot_failover.peek_binary_changes(slot_name name, upto_lsn pg_lsn,
	upto_nchanges integer, VARIADIC options text[] DEFAULT '{}',
	OUT lsn pg_lsn, OUT xid xid, OUT data bytea)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT c.* FROM slot_failover.gated_upto($1, $2, $3, $4) AS g,
	LATERAL pg_catalog.pg_logical_slot_peek_binary_changes($1, g.upto, $3, VARIADIC $4) AS c
WHERE NOT (g.gated AND g.upto IS NULL)
$$;

-- Advance a slot no further than the standbys flushed (and, when they are
-- behind it, leave it where it is rather than fail).
CREATE FUNCTION slot_failover.advance(slot_name name, upto_lsn pg_lsn,
	OUT slot_name name, OUT end_lsn pg_lsn)
RETURNS record
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
SELECT a.slot_name, a.end_lsn
FROM (SELECT slot_failover.gate_position($1) AS safe,
		(SELECT s.confirmed_flush_lsn FROM pg_catalog.pg_replication_slots AS s
		 WHERE s.slot_name OPERATOR(pg_catalog.=) $1) AS confirmed) AS g,
	LATERAL pg_catalog.pg_replication_slot_advance($1,
		CASE WHEN g.safe IS NULL THEN $2
		ELSE LEAST($2, GREATEST(g.safe, g.confirmed)) END) AS a
$$;

-- The slots slot_failover.standby_slot_names lists that do not exist
-- (after a failover, the old primary's slot of this node, say): a gated
-- walsender may wait for them, and the status view names them.
CREATE FUNCTION slot_failover.gate_missing()
RETURNS name[]
AS 'MODULE_PATHNAME', 'slot_failover_gate_missing'
LANGUAGE C VOLATILE STRICT;

REVOKE ALL ON FUNCTION slot_failover.gate_missing() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION slot_failover.gate_missing() TO pg_monitor;

-- ---------------------------------------------------------------------
-- Readiness for promotion.  failover_ready is, on a standby, whether the
-- row's copy is ready (its state is 'ready'; a row the worker has not
-- looked at yet has no state, and is not), or the row is of the slot this
-- standby streams from (primary_slot_name), which is never copied and
-- which nobody needs once this standby is promoted; NULL on a primary.
-- ready_for_failover() applies the same rule to every row, for a hook
-- that an HA tool runs on a standby before promoting it.  gate_missing
-- (on a primary) lists the slots of standby_slot_names that do not exist.
-- ---------------------------------------------------------------------

CREATE OR REPLACE VIEW slot_failover.status AS
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
	g.lsn AS gate_lsn,
	CASE WHEN pg_catalog.pg_is_in_recovery() THEN
		COALESCE(c.state OPERATOR(pg_catalog.=) 'ready' OR
				 s.slot_name OPERATOR(pg_catalog.=)
				 pg_catalog.current_setting('primary_slot_name'), false)
	END AS failover_ready,
	CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN
		slot_failover.gate_missing()
	END AS gate_missing
FROM slot_failover.slots AS s
	LEFT JOIN pg_catalog.pg_replication_slots AS r
		ON r.slot_name OPERATOR(pg_catalog.=) s.slot_name AND NOT r.temporary
	LEFT JOIN slot_failover.copy_status() AS c
		ON c.slot_name OPERATOR(pg_catalog.=) s.slot_name
	LEFT JOIN slot_failover.gate_status() AS g
		ON g.slot_name OPERATOR(pg_catalog.=) s.slot_name;

-- On a standby: true if every row's copy is failover_ready.  With
-- raise_error, an ERROR instead of false, whose DETAIL names each copy
-- that is not ready and why, so that "psql -v ON_ERROR_STOP=1" exits
-- non-zero.  Runs with the caller's rights: a member of pg_monitor may
-- call it.
CREATE FUNCTION slot_failover.ready_for_failover(raise_error boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	not_ready text;
BEGIN
	IF NOT pg_catalog.pg_is_in_recovery() THEN
		RAISE EXCEPTION 'recovery is not in progress'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'slot_failover.ready_for_failover() checks a standby before it is promoted.';
	END IF;
	SELECT pg_catalog.string_agg(pg_catalog.format('"%s" (%s)', s.slot_name,
			COALESCE(s.state OPERATOR(pg_catalog.||)
					 COALESCE(': ' OPERATOR(pg_catalog.||) s.reason, ''),
					 'not looked at by the worker yet')),
		', ' ORDER BY s.slot_name)
	INTO not_ready
	FROM slot_failover.status AS s
	WHERE NOT s.failover_ready;
	IF not_ready IS NULL THEN
		RETURN true;
	END IF;
	IF raise_error THEN
		RAISE EXCEPTION 'this standby is not ready for failover'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = pg_catalog.format('Copies of replication slots that are not ready: %s.', not_ready),
				HINT = 'See slot_failover.status on this standby.';
	END IF;
	RETURN false;
END
$$;

REVOKE ALL ON FUNCTION slot_failover.ready_for_failover(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION slot_failover.ready_for_failover(boolean) TO pg_monitor;
COMMENT ON FUNCTION slot_failover.ready_for_failover(boolean) IS
	'on a standby, whether every marked slot has a copy ready for failover (slot_failover.status.failover_ready)';

COMMENT ON FUNCTION slot_failover.get_changes(name, pg_lsn, integer, text[]) IS
	'pg_logical_slot_get_changes() that returns nothing the standbys of standby_slot_names lack';
COMMENT ON FUNCTION slot_failover.peek_changes(name, pg_lsn, integer, text[]) IS
	'pg_logical_slot_peek_changes() that returns nothing the standbys of standby_slot_names lack';
COMMENT ON FUNCTION slot_failover.get_binary_changes(name, pg_lsn, integer, text[]) IS
	'pg_logical_slot_get_binary_changes() that returns nothing the standbys of standby_slot_names lack';
COMMENT ON FUNCTION slot_failover.peek_binary_changes(name, pg_lsn, integer, text[]) IS
	'pg_logical_slot_peek_binary_changes() that returns nothing the standbys of standby_slot_names lack';
COMMENT ON FUNCTION slot_failover.advance(name, pg_lsn) IS
	'pg_replication_slot_advance() that moves no further than the standbys of standby_slot_names flushed';
COMMENT ON VIEW slot_failover.status IS
	'marked slots; consume them through a walsender, or with slot_failover.get_changes(), peek_changes(), advance(): the core SQL decoding functions are not gated';
