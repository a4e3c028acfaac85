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
