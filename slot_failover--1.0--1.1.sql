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
