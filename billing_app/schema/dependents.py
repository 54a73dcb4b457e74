"""Views of a team's own built on billing_app's views, kept across `flask db init` and `upgrade`.

Each run drops schema billing_mirror and every view of reporting and reporting_live
and makes them again (a view may change its columns from one version to the next),
and PostgreSQL drops what depends on them with them: a team's view over
reporting.mrr in a schema of its own, a materialized view behind a dashboard, the
views over those.  So, in the run's transaction:

1. ``views_built_on_ours`` reads every such view before the files run: its
   definition, owner, privileges (the view's and its columns'), comments and, for a
   materialized view, its indexes.  Anything else the drop would take (a function
   of a view's rows, a table column of a mirror type, a trigger on such a view)
   stops the run, naming it, as does a view the run's login could not make again
   (it needs CREATE on the view's schema and the owner's privileges).
2. ``objects_outside`` lists every object outside billing_app's schemas.
3. After the files, ``make_again`` creates each kept view anew, as its owner had
   it; a materialized view is made empty (nothing of the team's runs as the run's
   login, and the mirror's tables, locked by the run, are not read meanwhile).
   A view that no longer fits the new version stops the run, naming it.
4. ``check_nothing_dropped`` compares with 2: whatever else went (a kind of
   dependency step 1 did not foresee) stops the run too.  Nothing is changed when
   the run stops.

After the commit, ``fill_again`` refreshes the kept materialized views that held
rows (REFRESH runs as the view's owner).  Views in billing_app's own schemas are
billing_app's: made again by the files, not kept; other sessions' temporary views
go with the drop, as they would with their session.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from billing_app.reporting.reports import first_line

REBUILT_SCHEMAS = ("billing_mirror", "reporting", "reporting_live", "reporting_rollups")
OWN_SCHEMAS = (*REBUILT_SCHEMAS, "billing_app")  # what the files may change as they please

# What a run drops (objects of billing_mirror, views of reporting and reporting_live, and the row
# and array types of those views), and everything PostgreSQL's CASCADE would drop with it: objects
# with a normal dependency on them and, through each view so reached, on that view and its types.
_DROPPED_WITH_OURS = """
WITH RECURSIVE ours(classid, objid) AS (
    SELECT 'pg_class'::regclass, c.oid
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'billing_mirror' OR (n.nspname IN ('reporting', 'reporting_live') AND c.relkind = 'v')
    UNION ALL
    SELECT 'pg_type'::regclass, t.oid
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_type t ON t.oid = c.reltype OR t.typelem = c.reltype
     WHERE n.nspname IN ('reporting', 'reporting_live') AND c.relkind = 'v'
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
                        OR (d.refclassid = 'pg_type'::regclass
                            AND d.refobjid IN (SELECT t.oid FROM pg_type t
                                                WHERE t.oid = v.reltype OR t.typelem = v.reltype)))
), outside AS (
    SELECT x.*, r.ev_class, coalesce(n.nspname, (pg_identify_object(x.classid, x.objid, x.objsubid)).schema) AS nspname
      FROM dropped x
      LEFT JOIN pg_rewrite r ON x.classid = 'pg_rewrite'::regclass AND r.oid = x.objid AND r.rulename = '_RETURN'
      LEFT JOIN pg_class v ON v.oid = r.ev_class
      LEFT JOIN pg_namespace n ON n.oid = v.relnamespace
)
SELECT DISTINCT ev_class AS view, NULL::text AS other
  FROM outside
 WHERE ev_class IS NOT NULL AND nspname <> ALL (%(rebuilt)s) AND nspname NOT LIKE 'pg\\_temp\\_%%'
UNION ALL
SELECT DISTINCT NULL::oid, pg_describe_object(classid, objid, objsubid)
  FROM outside
 WHERE ev_class IS NULL AND coalesce(nspname, '') <> ALL (%(rebuilt)s) AND coalesce(nspname, '') NOT LIKE 'pg\\_temp\\_%%'
"""

# What else hangs on one of those views and would be dropped with it: triggers, rules other than
# the view's own, column defaults, statistics objects.
_ATTACHED = """
SELECT DISTINCT pg_describe_object(d.classid, d.objid, 0)
  FROM pg_depend d
 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = %s AND d.deptype = 'a'
   AND d.classid <> 'pg_class'::regclass
   AND NOT (d.classid = 'pg_rewrite'::regclass
            AND EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.oid = d.objid AND r.rulename = '_RETURN'))
"""

# One kept view, read with search_path empty: every name in its definition schema-qualified.
_VIEW = """
SELECT n.nspname, c.relname, c.oid::regclass::text, c.relkind = 'm', c.relispopulated, pg_get_viewdef(c.oid),
       coalesce(c.reloptions, '{}'), pg_get_userbyid(c.relowner), obj_description(c.oid, 'pg_class'),
       coalesce((SELECT array_agg(pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid)
                   FROM pg_index i WHERE i.indrelid = c.oid), '{}'),
       coalesce((SELECT array_agg(ARRAY[a.attname, col_description(c.oid, a.attnum)] ORDER BY a.attnum)
                   FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                    AND col_description(c.oid, a.attnum) IS NOT NULL), '{}'),
       c.relacl IS NULL,
       (SELECT array_agg(ARRAY['', CASE WHEN acl.grantee = 0 THEN '' ELSE pg_get_userbyid(acl.grantee) END,
                               acl.privilege_type, acl.is_grantable::text])
          FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS acl),
       coalesce((SELECT array_agg(ARRAY[a.attname, CASE WHEN acl.grantee = 0 THEN ''
                                                       ELSE pg_get_userbyid(acl.grantee) END,
                                        acl.privilege_type, acl.is_grantable::text] ORDER BY a.attnum)
                   FROM pg_attribute a, aclexplode(a.attacl) AS acl
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
       has_schema_privilege(n.oid, 'USAGE') AND has_schema_privilege(n.oid, 'CREATE'),
       -- ALTER ... OWNER TO, CREATE INDEX, COMMENT and REFRESH act with the owner's privileges
       pg_has_role(c.relowner, 'USAGE') AND (current_setting('server_version_num')::int < 160000
                                            OR pg_has_role(c.relowner, %s))
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

# Every object outside billing_app's schemas (and PostgreSQL's own, and temporary ones), by name.
_OBJECTS_OUTSIDE = """
WITH spaces AS (
    SELECT oid FROM pg_namespace
     WHERE nspname <> ALL (%(own)s) AND nspname NOT IN ('pg_catalog', 'information_schema')
       AND nspname NOT LIKE 'pg\\_toast%%' AND nspname NOT LIKE 'pg\\_temp\\_%%'
), relations AS (
    SELECT c.oid FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM spaces)
)
SELECT pg_describe_object('pg_class'::regclass, oid, 0) FROM relations
UNION ALL
SELECT pg_describe_object('pg_class'::regclass, a.attrelid, a.attnum)
  FROM pg_attribute a WHERE a.attrelid IN (SELECT oid FROM relations) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT pg_describe_object('pg_proc'::regclass, p.oid, 0) FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM spaces)
UNION ALL
SELECT pg_describe_object('pg_type'::regclass, t.oid, 0)
  FROM pg_type t WHERE t.typnamespace IN (SELECT oid FROM spaces) AND t.typrelid = 0 AND t.typcategory <> 'A'
UNION ALL
SELECT pg_describe_object('pg_constraint'::regclass, co.oid, 0)
  FROM pg_constraint co WHERE co.connamespace IN (SELECT oid FROM spaces)
UNION ALL
SELECT pg_describe_object('pg_trigger'::regclass, tg.oid, 0)
  FROM pg_trigger tg WHERE tg.tgrelid IN (SELECT oid FROM relations) AND NOT tg.tgisinternal
UNION ALL
SELECT pg_describe_object('pg_policy'::regclass, po.oid, 0)
  FROM pg_policy po WHERE po.polrelid IN (SELECT oid FROM relations)
UNION ALL
SELECT pg_describe_object('pg_rewrite'::regclass, r.oid, 0)
  FROM pg_rewrite r WHERE r.ev_class IN (SELECT oid FROM relations)
UNION ALL
SELECT pg_describe_object('pg_attrdef'::regclass, ad.oid, 0)
  FROM pg_attrdef ad WHERE ad.adrelid IN (SELECT oid FROM relations)
"""


class DependentsError(RuntimeError):
    """A team's object built on billing_app's views cannot be kept across the run; the message names it."""


@dataclass(frozen=True)
class KeptView:
    schema: str
    name: str
    shown: str                      # as PostgreSQL names it: schema.name, quoted where needed
    materialized: bool
    populated: bool
    definition: str
    options: list[str]              # reloptions, "name=value"
    owner: str
    comment: str | None
    indexes: list[str]              # CREATE INDEX statements (a materialized view's)
    column_comments: list[list[str]]  # [column, comment]
    default_privileges: bool        # the owner's alone, as PostgreSQL gives them (no ACL recorded)
    grants: list[list[str]]         # ['', grantee ('' for PUBLIC), privilege, grantable 'true'/'false']
    column_grants: list[list[str]]  # [column, grantee, privilege, grantable]
    can_create: bool                # the run's login has USAGE and CREATE on the schema
    can_own: bool                   # the run's login has the owner's privileges (and may SET ROLE to it)

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def kind(self) -> str:
        return "materialized view" if self.materialized else "view"


def views_built_on_ours(conn: psycopg.Connection) -> list[KeptView]:
    """The views outside billing_app's schemas that a run would drop, in an order they can be made
    again in; DependentsError when the run would also drop something that cannot be made again, or
    when this login could not make one of them again."""
    cursor = conn.cursor(row_factory=tuple_row)
    rows = cursor.execute(_DROPPED_WITH_OURS, {"rebuilt": list(REBUILT_SCHEMAS)}).fetchall()
    others = sorted(other for _, other in rows if other is not None)
    oids = [view for view, _ in rows if view is not None]
    for oid in oids:
        attached = [name for (name,) in cursor.execute(_ATTACHED, (oid,)).fetchall()]
        others += [f"{what} (the view is built on billing_app's views)" for what in sorted(attached)]
    if others:
        raise _would_be_dropped(others)
    if not oids:
        return []
    reads = cursor.execute(_READS, {"views": oids}).fetchall()
    with _search_path_empty(conn):
        # 'SET' (PostgreSQL 16 and later: ALTER ... OWNER TO needs it) as a parameter: older servers never read it
        set_privilege = "SET" if conn.info.server_version >= 160000 else "USAGE"
        views = [KeptView(*cursor.execute(_VIEW, (set_privilege, oid)).fetchone())
                 for oid in _in_order(oids, reads)]
    login = cursor.execute("SELECT current_user").fetchone()[0]
    for view in views:
        missing = ([f"CREATE on schema {view.schema}"] if not view.can_create else []) \
            + ([f"membership in role {view.owner} with its privileges (INHERIT, and SET on PostgreSQL 16 and "
                "later)"] if not view.can_own else [])
        if missing:
            raise DependentsError(
                f"the {view.kind} {view.shown} (owned by {view.owner}) is built on billing_app's views, which this run "
                f"makes again; to make it again too, {login} needs {' and '.join(missing)} (or drop the view first "
                "and create it again afterwards)")
    return views


@contextlib.contextmanager
def _search_path_empty(conn: psycopg.Connection):
    """search_path empty for the block (in the transaction): names read schema-qualified, and the
    definitions so read meaning the same when run."""
    cursor = conn.cursor(row_factory=tuple_row)
    search_path = cursor.execute("SELECT current_setting('search_path')").fetchone()
    cursor.execute("SELECT set_config('search_path', '', %s)", (not conn.autocommit,))
    try:
        yield
    finally:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:  # else gone
            cursor.execute("SELECT set_config('search_path', %s, %s)", (*search_path, not conn.autocommit))


def _in_order(oids: list[int], reads: list[tuple[int, int]]) -> list[int]:
    """Each view after the views it reads."""
    needs = {oid: {read for view, read in reads if view == oid} for oid in oids}
    ordered: list[int] = []
    while needs:
        ready = sorted(oid for oid, wanted in needs.items() if not wanted - set(ordered))
        if not ready:  # views reading each other (CREATE OR REPLACE allows it; reading them never ends)
            raise DependentsError("views built on billing_app's views read each other in a circle: "
                                  f"{', '.join(str(oid) for oid in sorted(needs))} (oids); drop them first")
        ordered += ready
        for oid in ready:
            del needs[oid]
    return ordered


def objects_outside(conn: psycopg.Connection) -> set[str]:
    """Every object outside billing_app's schemas (and PostgreSQL's own), by PostgreSQL's description,
    every name schema-qualified (whatever the connection's search_path)."""
    with _search_path_empty(conn):
        cursor = conn.cursor(row_factory=tuple_row)
        return {name for (name,) in cursor.execute(_OBJECTS_OUTSIDE, {"own": list(OWN_SCHEMAS)}).fetchall()}


def check_nothing_dropped(conn: psycopg.Connection, conninfo: str, before: set[str]) -> None:
    """DependentsError naming whatever outside billing_app's schemas this run dropped (all of it is then
    rolled back).  An object gone here counts only while another connection, which sees what is
    committed, still has it: one another session dropped meanwhile (a partition, a table swapped) is
    not this run's doing."""
    gone = before - objects_outside(conn)
    if gone:
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as committed:
                gone &= objects_outside(committed)
        except psycopg.Error:  # no second connection (a connection limit, a pooler of one): all counted as ours
            pass
    if gone:
        raise _would_be_dropped(sorted(gone))


def _would_be_dropped(names: list[str]) -> DependentsError:
    return DependentsError(
        "these objects depend on billing_app's views, which this run makes again, and would be dropped with "
        f"them: {'; '.join(names)}. Drop them first and create them again afterwards")


def make_again(conn: psycopg.Connection, views: list[KeptView]) -> list[str]:
    """Create each kept view anew, as it was (a materialized one empty: ``fill_again``), under the empty
    search_path its definition was read with; those still there were not dropped and are left alone.
    The kinds and names of those made; DependentsError, naming the view, when one no longer fits."""
    with _search_path_empty(conn):
        return [made for view in views if (made := _make_one_again(conn, view))]


def _make_one_again(conn: psycopg.Connection, view: KeptView) -> str | None:
    still_there = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s)", (view.schema, view.name)).fetchone()[0]
    if still_there:
        return None
    try:
        for statement in _create(view):
            conn.execute(statement)
        _restore_privileges(conn, view)
    except psycopg.Error as exc:
        raise DependentsError(
            f"the {view.kind} {view.shown} is built on billing_app's views and cannot be made again on this "
            f"version ({first_line(exc)}): change or drop it, then run this again") from None
    return f"{view.kind} {view.shown}"


def fill_again(conninfo: str, views: list[KeptView]) -> tuple[list[str], list[str]]:
    """After the run's commit: refresh each kept materialized view that held rows, in order (REFRESH runs
    as the view's owner; until then reading one is an error, "has not been populated").  The names of
    those filled, and what went wrong with each of the others (every one is tried)."""
    filled, failed = [], []
    to_fill = [view for view in views if view.materialized and view.populated]
    if not to_fill:
        return filled, failed
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for view in to_fill:
                try:
                    conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(view.identifier))
                    filled.append(view.shown)
                except psycopg.Error as exc:
                    if conn.closed:
                        raise
                    failed.append(f"refreshing your materialized view {view.shown} failed ({first_line(exc)}): "
                                  f"run REFRESH MATERIALIZED VIEW {view.shown}")
    except psycopg.OperationalError as exc:  # the database went away
        left = [view.shown for view in to_fill if view.shown not in filled]
        failed.append(f"refreshing your materialized views {', '.join(left)} failed ({first_line(exc)}): "
                      "run REFRESH MATERIALIZED VIEW for each")
    return filled, failed


def _create(view: KeptView) -> list[sql.Composable]:
    options = sql.SQL("")
    if view.options:
        options = sql.SQL(" WITH ({})").format(sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(key), sql.Literal(value))
            for key, _, value in (option.partition("=") for option in view.options)))
    definition = sql.SQL(view.definition.strip().rstrip(";"))
    kind = sql.SQL("MATERIALIZED VIEW" if view.materialized else "VIEW")
    # empty, so that nothing of the view's runs as this login; filled after the commit, as its owner
    statements = [sql.SQL("CREATE {} {}{} AS {}{}").format(
        kind, view.identifier, options, definition, sql.SQL(" WITH NO DATA" if view.materialized else ""))]
    statements.append(sql.SQL("ALTER {} {} OWNER TO {}").format(kind, view.identifier, sql.Identifier(view.owner)))
    statements += [sql.SQL(index) for index in view.indexes]  # built as the owner (and on no rows)
    if view.comment is not None:
        statements.append(sql.SQL("COMMENT ON {} {} IS {}").format(kind, view.identifier, sql.Literal(view.comment)))
    for column, comment in view.column_comments:
        statements.append(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            view.identifier, sql.Identifier(column), sql.Literal(comment)))
    return statements


def _restore_privileges(conn: psycopg.Connection, view: KeptView) -> None:
    """The privileges the view had, exactly: first none (this login's default privileges may have
    given some; the owner may have revoked some of its own), then each one it had."""
    now = [grantee for (grantee,) in conn.execute(
        "SELECT DISTINCT CASE WHEN acl.grantee = 0 THEN '' ELSE pg_get_userbyid(acl.grantee) END"
        " FROM pg_class c, aclexplode(c.relacl) AS acl WHERE c.oid = %s::regclass",
        (view.identifier.as_string(conn),)).fetchall()]
    if not now and view.default_privileges and not view.column_grants:
        return  # as it was: no ACL recorded, the owner's privileges as PostgreSQL gives them
    for grantee in sorted({*now, view.owner}):
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(view.identifier, _grantee(grantee)))
    for column, grantee, privilege, grantable in [*view.grants, *view.column_grants]:
        columns = sql.SQL(" ({})").format(sql.Identifier(column)) if column else sql.SQL("")
        conn.execute(sql.SQL("GRANT {}{} ON {} TO {}{}").format(
            sql.SQL(privilege), columns, view.identifier, _grantee(grantee),
            sql.SQL(" WITH GRANT OPTION" if grantable == "true" else "")))


def _grantee(name: str) -> sql.Composable:
    return sql.Identifier(name) if name else sql.SQL("PUBLIC")
