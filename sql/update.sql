-- ALTER EXTENSION slot_failover UPDATE from 1.0 gives what a fresh CREATE
-- EXTENSION gives: the same objects, definitions, privileges and comments.
-- (Today a fresh CREATE EXTENSION runs the same scripts; this holds the
-- line once a version ships a full install script of its own.)

-- every object of the extension, by name, with all that defines it
CREATE FUNCTION pg_temp.sf_objects(OUT object text, OUT definition text)
RETURNS SETOF record LANGUAGE sql AS $$
SELECT pg_describe_object(d.classid, d.objid, 0),
	CASE d.classid
	WHEN 'pg_class'::regclass THEN
		(SELECT concat_ws(' | ', c.relkind, c.reloptions::text, c.relacl::text,
			obj_description(c.oid, 'pg_class'),
			CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END,
			(SELECT string_agg(concat_ws(' ', a.attname,
					format_type(a.atttypid, a.atttypmod), a.attnotnull,
					pg_get_expr(ad.adbin, ad.adrelid), a.attacl::text,
					col_description(c.oid, a.attnum)), ', ' ORDER BY a.attnum)
			 FROM pg_attribute a
				LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
			 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
			(SELECT string_agg(n.conname || ' ' || pg_get_constraintdef(n.oid), ', '
							   ORDER BY n.conname)
			 FROM pg_constraint n WHERE n.conrelid = c.oid),
			(SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1)
			 FROM pg_index i WHERE i.indrelid = c.oid),
			(SELECT string_agg(pg_get_triggerdef(t.oid), ', ' ORDER BY 1)
			 FROM pg_trigger t WHERE t.tgrelid = c.oid),
			(SELECT string_agg(r.rulename, ', ' ORDER BY 1)
			 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'))
		 FROM pg_class c WHERE c.oid = d.objid)
	WHEN 'pg_proc'::regclass THEN
		(SELECT concat_ws(' | ', pg_get_functiondef(p.oid), p.proacl::text,
			obj_description(p.oid, 'pg_proc'))
		 FROM pg_proc p WHERE p.oid = d.objid)
	ELSE 'an object of a class this test does not describe'
	END
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'slot_failover')
	-- 17+ also list the row types of its tables and views, and their
	-- array types: they follow their relations, described above
	AND NOT (d.classid = 'pg_type'::regclass AND EXISTS (
		SELECT FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem
		WHERE t.oid = d.objid AND (t.typrelid <> 0 OR e.typrelid <> 0)))
UNION ALL
SELECT 'extension slot_failover',
	concat_ws(' | ', e.extversion, e.extrelocatable, e.extconfig::text,
		e.extcondition::text, obj_description(e.oid, 'pg_extension'),
		n.nspname, pg_get_userbyid(n.nspowner), n.nspacl::text)
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'slot_failover'
$$;

CREATE EXTENSION slot_failover;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.sf_objects();
DROP EXTENSION slot_failover;

CREATE EXTENSION slot_failover VERSION '1.0';
ALTER EXTENSION slot_failover UPDATE;
CREATE TEMP TABLE updated AS SELECT * FROM pg_temp.sf_objects();
DROP EXTENSION slot_failover;

-- what the comparison covers
SELECT split_part(object, ' ', 1) AS kind, count(*) FROM fresh GROUP BY 1 ORDER BY 1;
SELECT object AS undescribed FROM fresh
WHERE definition = 'an object of a class this test does not describe';

-- what differs: nothing
(SELECT 'fresh only' AS side, * FROM fresh EXCEPT SELECT 'fresh only', * FROM updated)
UNION ALL
(SELECT 'update only', * FROM updated EXCEPT SELECT 'update only', * FROM fresh)
ORDER BY object, side;
