"""Views of a team's own built on billing_app's views, kept across `flask db init` and `upgrade`.

Each run drops schema billing_mirror and every view of reporting and reporting_live
and makes them again (a view may change its columns from one version to the next),
and PostgreSQL drops what depends on them with them: a team's view over
reporting.mrr in a schema of its own, a materialized view behind a dashboard, the
views over those.  So before the files run, ``views_built_on_ours`` reads every
such view (its definition, owner, privileges, comments and, for a materialized
view, its indexes), and after them ``make_again`` creates each anew, in the same
transaction.  A view that no longer fits the new version (it reads a column or a
report that is gone) stops the run, naming it, and nothing is changed; so does any
other object of a team's that the drop would take with it (a function returning a
view's rows, a table column of a mirror type, a trigger on such a view), which
cannot be carried over.  Views inside billing_app's own schemas are billing_app's:
they are made again by the files, not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

REBUILT_SCHEMAS = ("billing_mirror", "reporting", "reporting_live", "reporting_rollups")

# What a run drops (objects of billing_mirror; views of reporting and reporting_live; the rollup
# tables, which 100_rollups.sql drops when their columns change), and everything outside those
# schemas that PostgreSQL's CASCADE would drop with it: objects with a normal dependency on them,
# and, through each view so reached, on that view and its row type.
_DROPPED_WITH_OURS = """
WITH RECURSIVE ours(classid, objid) AS (
    SELECT 'pg_class'::regclass, c.oid
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'billing_mirror'
        OR (n.nspname IN ('reporting', 'reporting_live') AND c.relkind = 'v')
        OR (n.nspname = 'reporting_rollups' AND c.relkind = 'r')
    UNION ALL
    SELECT 'pg_type'::regclass, c.reltype
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE (n.nspname IN ('reporting', 'reporting_live') AND c.relkind = 'v')
        OR (n.nspname = 'reporting_rollups' AND c.relkind = 'r')
    UNION ALL
    SELECT 'pg_type'::regclass, t.oid
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'billing_mirror'
    UNION ALL
    SELECT 'pg_proc'::regclass, p.oid
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'billing_mirror'
), dropped(classid, objid, objsubid) AS (
    SELECT d.classid, d.objid, d.objsubid
      FROM pg_depend d JOIN ours o ON d.refclassid = o.classid AND d.refobjid = o.objid
     WHERE d.deptype = 'n'
    UNION
    SELECT d.classid, d.objid, d.objsubid
      FROM dropped x
      JOIN pg_rewrite r ON x.classid = 'pg_rewrite'::regclass AND r.oid = x.objid AND r.rulename = '_RETURN'
      JOIN pg_class v ON v.oid = r.ev_class
      JOIN pg_depend d ON d.deptype = 'n'
                      AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = v.oid)
                        OR (d.refclassid = 'pg_type'::regclass AND d.refobjid = v.reltype))
)
SELECT DISTINCT v.oid AS view, NULL::text AS other
  FROM dropped x
  JOIN pg_rewrite r ON x.classid = 'pg_rewrite'::regclass AND r.oid = x.objid AND r.rulename = '_RETURN'
  JOIN pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
  JOIN pg_namespace n ON n.oid = v.relnamespace
 WHERE n.nspname <> ALL (%(rebuilt)s)
UNION ALL
SELECT DISTINCT NULL::oid, pg_describe_object(x.classid, x.objid, x.objsubid)
  FROM dropped x
 WHERE NOT (x.classid = 'pg_rewrite'::regclass
            AND EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.oid = x.objid AND r.rulename = '_RETURN'))
   AND coalesce((pg_identify_object(x.classid, x.objid, x.objsubid)).schema, '') <> ALL (%(rebuilt)s)
"""

# What else hangs on one of those views and would be dropped with it, unseen by the query above:
# triggers, rules other than the view's own, column defaults, statistics objects.
_ATTACHED = """
SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
  FROM pg_depend d
 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = %s AND d.deptype = 'a'
   AND d.classid <> 'pg_class'::regclass
   AND NOT (d.classid = 'pg_rewrite'::regclass
            AND EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.oid = d.objid AND r.rulename = '_RETURN'))
"""

_VIEW = """
SELECT n.nspname, c.relname, c.relkind = 'm', c.relispopulated, pg_get_viewdef(c.oid),
       coalesce(c.reloptions, '{}'), pg_get_userbyid(c.relowner), obj_description(c.oid, 'pg_class'),
       coalesce((SELECT array_agg(pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid)
                   FROM pg_index i WHERE i.indrelid = c.oid), '{}'),
       coalesce((SELECT array_agg(ARRAY[a.attname, col_description(c.oid, a.attnum)] ORDER BY a.attnum)
                   FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                    AND col_description(c.oid, a.attnum) IS NOT NULL), '{}'),
       coalesce((SELECT array_agg(ARRAY[CASE WHEN acl.grantee = 0 THEN '' ELSE pg_get_userbyid(acl.grantee) END,
                                        acl.privilege_type, acl.is_grantable::text])
                   FROM aclexplode(c.relacl) AS acl WHERE acl.grantee <> c.relowner), '{}')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = %s
"""

# Among the kept views, which reads which (to make them again in an order that works).
_READS = """
SELECT DISTINCT r.ev_class, d.refobjid
  FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
 WHERE r.ev_class = ANY(%(views)s) AND d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY(%(views)s)
   AND d.refobjid <> r.ev_class
"""


class DependentsError(RuntimeError):
    """A team's object built on billing_app's views cannot be kept across the run; the message names it."""


@dataclass(frozen=True)
class KeptView:
    schema: str
    name: str
    materialized: bool
    populated: bool
    definition: str
    options: list[str]              # reloptions, "name=value"
    owner: str
    comment: str | None
    indexes: list[str]              # CREATE INDEX statements (a materialized view's)
    column_comments: list[list[str]]  # [column, comment]
    grants: list[list[str]]         # [grantee ('' for PUBLIC), privilege, grantable 'true'/'false']

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def kind(self) -> str:
        return "materialized view" if self.materialized else "view"


def views_built_on_ours(conn: psycopg.Connection) -> list[KeptView]:
    """The views outside billing_app's schemas that a run would drop, in an order they can be made
    again in; DependentsError when the run would also drop something that cannot be made again."""
    cursor = conn.cursor(row_factory=tuple_row)
    rows = cursor.execute(_DROPPED_WITH_OURS, {"rebuilt": list(REBUILT_SCHEMAS)}).fetchall()
    others = sorted(other for _, other in rows if other is not None)
    oids = [view for view, _ in rows if view is not None]
    for oid in oids:
        attached = sorted(name for (name,) in cursor.execute(_ATTACHED, (oid,)).fetchall())
        others += [f"{what} (the view is built on billing_app's views)" for what in attached]
    if others:
        raise DependentsError(
            "these objects depend on billing_app's views, which this run makes again, and would be dropped with "
            f"them: {'; '.join(others)}. Drop them first and create them again afterwards")
    if not oids:
        return []
    reads = cursor.execute(_READS, {"views": oids}).fetchall()
    # definitions with every name schema-qualified, whatever search_path the run has when it makes them again
    search_path = cursor.execute("SELECT current_setting('search_path')").fetchone()
    cursor.execute("SELECT set_config('search_path', '', true)")
    try:
        return [KeptView(*cursor.execute(_VIEW, (oid,)).fetchone()) for oid in _in_order(oids, reads)]
    finally:
        cursor.execute("SELECT set_config('search_path', %s, true)", search_path)


def _in_order(oids: list[int], reads: list[tuple[int, int]]) -> list[int]:
    """Each view after the views it reads (the views form no cycle: PostgreSQL allows none)."""
    needs = {oid: {read for view, read in reads if view == oid} for oid in oids}
    ordered: list[int] = []
    while needs:
        ready = sorted(oid for oid, wanted in needs.items() if not wanted - set(ordered))
        ordered += ready
        for oid in ready:
            del needs[oid]
    return ordered


def make_again(conn: psycopg.Connection, views: list[KeptView]) -> list[str]:
    """Create each kept view anew, as it was (those still there were not dropped: left alone); the
    kinds and names of those made.  DependentsError, naming the view, when one no longer fits."""
    made = []
    for view in views:
        if conn.execute("SELECT to_regclass(%s)", (view.identifier.as_string(conn),)).fetchone()[0]:
            continue
        try:
            for statement in _statements(view):
                conn.execute(statement)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DependentsError(
                f"the {view.kind} {view.qualified} is built on billing_app's views and cannot be made again on "
                f"this version ({reason}): change or drop it, then run this again") from None
        made.append(f"{view.kind} {view.qualified}")
    return made


def _statements(view: KeptView) -> list[sql.Composable]:
    options = sql.SQL("")
    if view.options:
        options = sql.SQL(" WITH ({})").format(sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(key), sql.Literal(value))
            for key, _, value in (option.partition("=") for option in view.options)))
    definition = sql.SQL(view.definition.strip().rstrip(";"))
    if view.materialized:
        data = sql.SQL("WITH DATA" if view.populated else "WITH NO DATA")
        statements = [sql.SQL("CREATE MATERIALIZED VIEW {}{} AS {} {}").format(
            view.identifier, options, definition, data)]
        statements += [sql.SQL(index) for index in view.indexes]
    else:
        statements = [sql.SQL("CREATE VIEW {}{} AS {}").format(view.identifier, options, definition)]
    kind = sql.SQL("MATERIALIZED VIEW" if view.materialized else "VIEW")
    statements.append(sql.SQL("ALTER {} {} OWNER TO {}").format(kind, view.identifier, sql.Identifier(view.owner)))
    if view.comment is not None:
        statements.append(sql.SQL("COMMENT ON {} {} IS {}").format(kind, view.identifier, sql.Literal(view.comment)))
    for column, comment in view.column_comments:
        statements.append(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            view.identifier, sql.Identifier(column), sql.Literal(comment)))
    for grantee, privilege, grantable in view.grants:
        statements.append(sql.SQL("GRANT {} ON {} TO {}{}").format(
            sql.SQL(privilege), view.identifier, sql.Identifier(grantee) if grantee else sql.SQL("PUBLIC"),
            sql.SQL(" WITH GRANT OPTION" if grantable == "true" else "")))
    return statements
