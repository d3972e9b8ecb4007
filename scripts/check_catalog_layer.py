#!/usr/bin/env python3
"""The catalog layer's rule (docs/design.md, "The catalog layer"): only src/pg/catalog/
reads or writes pg_incview's tables.

Scans every C++ file under src/pg outside src/pg/catalog/ for string literals (comments
stripped, adjacent literals joined, raw strings included) that name one of our tables or
views schema-qualified (incview.stage, incview.dirty_scope, incview.queued_keys, ...: a
view over our tables is reading them just the same; the pinned search path
pg_catalog, pg_temp makes the qualification mandatory in our SQL). Fails listing each
offender (file:line, table) that is not on the allow-list below.

Two more ways of reaching a table without naming it schema-qualified are caught too:
- a literal that is a table's bare name and nothing else ("source_change", as passed to
  get_relname_relid to open the relation for a direct heap insert; names with an underscore:
  "stage" is also every function's argument name);
- a call to one of the src/core functions that build SQL on our tables (CORE_TABLE_SQL:
  capture_sql's queue statements), whose text no literal here shows.

A literal that names a table without being SQL on it (an error's hint telling the user
where to look) is let through by a comment "not SQL:" (saying what it is) on the line the
literal starts on; literals joined to it (adjacent, as the compiler joins them) go with it.

The allow-list held the files not yet moved into catalog/ (issue 15); it is empty now and
stays so. A listed file that names no table any more is reported (a note, not a failure)
so that it leaves the list.

Usage: check_catalog_layer.py [repo root]   (exit 0: clean, 1: offenders, 2: usage)
       check_catalog_layer.py --count [root] (per table, the files outside catalog/ naming it)
       check_catalog_layer.py --self-test    (the check finds what it must, on a made-up tree)
Run by CTest (CMakeLists.txt: catalog_layer, catalog_layer_self_test), so by
scripts/test.sh ctest.
"""
import os
import re
import sys

# Our tables and views: every `CREATE TABLE incview.<name>` and `CREATE [OR REPLACE] VIEW
# incview.<name>` of the extension's scripts (so one a branch adds is covered without
# editing this file), at least these (the self-test's tree has no scripts).
BASE_TABLES = ("stage", "stage_state", "stage_source", "dirty_scope", "stage_index",
               "citus_source", "refresh_log", "delta_stage", "delta_capture", "source_change",
               "capture_mark", "queued_keys", "stages")
TABLES = BASE_TABLES
TABLE_RE = None
BARE_NAMES = set()


def use_tables_of(root):
    global TABLES, TABLE_RE
    names = set(BASE_TABLES)
    sql_dir = os.path.join(root, "sql")
    if os.path.isdir(sql_dir):
        for name in sorted(os.listdir(sql_dir)):
            if name.startswith("pg_incview--") and name.endswith(".sql"):
                with open(os.path.join(sql_dir, name), encoding="utf-8") as f:
                    text = f.read()
                    names.update(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?incview\.(\w+)", text))
                    names.update(re.findall(r"CREATE (?:OR REPLACE )?VIEW incview\.(\w+)", text))
    TABLES = tuple(sorted(names))
    TABLE_RE = re.compile(r"\bincview\.(" + "|".join(TABLES) + r")\b")

# src/core functions whose result is SQL on our tables (src/core/capture_sql.hpp): only
# catalog/ may call them.
CORE_TABLE_SQL = ("capture_statement", "queue_keys_statement")
CORE_CALL_RE = re.compile(r"\b(" + "|".join(CORE_TABLE_SQL) + r")\s*\(")

# Files outside catalog/ allowed to hold SQL on our tables: none since issue 15 was
# finished (every statement moved into catalog/). Keep it empty: a new statement on our
# tables goes into a named function in catalog/, never onto this list.
ALLOWED = frozenset()

NOT_SQL = "not SQL:"

LITERAL = re.compile(
    r'//[^\n]*'                                   # line comment
    r'|/\*.*?\*/'                                 # block comment
    r'|(?:u8|[uUL])?R"(?P<delim>[^()\\\s]{0,16})\((?P<raw>.*?)\)(?P=delim)"'  # raw string
    r'|(?:u8|[uUL])?"(?P<str>(?:[^"\\\n]|\\.)*)"'  # ordinary string
    r"|'(?:[^'\\\n]|\\.)*'",                      # character literal
    re.S)


def literals(text):
    """(line, text) of each string literal; adjacent literals (only whitespace or comments
    between them) are joined, as the compiler joins them. Literals starting on a line with
    a "not SQL:" comment are left out, with the literals joined to them."""
    lines = text.split("\n")
    out = []
    last_end = None
    skipping = False  # the literal before was left out: so is one joined to it
    for m in LITERAL.finditer(text):
        body = m.group("raw") if m.group("raw") is not None else m.group("str")
        if body is None:  # a comment or a character literal
            if m.group(0).startswith("'"):
                last_end = None
            continue
        line = text.count("\n", 0, m.start()) + 1
        gap = text[last_end:m.start()] if last_end is not None else None
        joined = gap is not None and not re.sub(r"//[^\n]*|/\*.*?\*/", "", gap, flags=re.S).strip()
        if (joined and skipping) or (NOT_SQL in lines[line - 1].split("//", 1)[-1] and "//" in lines[line - 1]):
            skipping = True
            last_end = m.end()
            continue
        skipping = False
        if out and joined:
            out[-1] = (out[-1][0], out[-1][1] + body)
        else:
            out.append((line, body))
        last_end = m.end()
    return out


def bare_names():
    """The table names distinctive enough to be flagged as a whole literal: not "stage",
    which is also every SQL function's argument name."""
    return {t for t in TABLES if "_" in t}


def core_calls(text):
    """(line, function) of each call to a CORE_TABLE_SQL function, outside comments and
    literals (a declaration in a header is a call too, for this check: none is needed
    outside catalog/)."""
    out = []
    code = LITERAL.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    for m in CORE_CALL_RE.finditer(code):
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1)))
    return out


def scan(root):
    """{relative path: [(line, table), ...]} for files under src/pg outside catalog/."""
    use_tables_of(root)
    global BARE_NAMES
    BARE_NAMES = bare_names()
    found = {}
    base = os.path.join(root, "src", "pg")
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        if rel_dir == "src/pg/catalog" or rel_dir.startswith("src/pg/catalog/"):
            continue
        for name in sorted(filenames):
            if not name.endswith((".cpp", ".hpp", ".h", ".cc")):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            hits = [(line, t) for line, body in literals(text) for t in TABLE_RE.findall(body)]
            hits += [(line, body + " (by name)") for line, body in literals(text) if body in BARE_NAMES]
            hits += [(line, name + "()") for line, name in core_calls(text)]
            hits.sort()
            if hits:
                found[rel_dir + "/" + name] = hits
    return found


def report(found, allowed):
    """Prints offenders and stale allow-list entries; the offenders as (path, line, table)."""
    offenders = [(p, line, t) for p, hits in sorted(found.items()) if p not in allowed for line, t in hits]
    stale = sorted(p for p in allowed if p not in found)
    for p, line, t in offenders:
        what = f"a call to core's {t}, SQL on our tables," if t.endswith("()") else f"SQL on incview.{t}"
        print(f"{p}:{line}: {what} outside src/pg/catalog/")
    for p in stale:
        print(f"note: {p} is on the allow-list of scripts/check_catalog_layer.py but names none of "
              "our tables: delete it from the list once no branch in flight adds SQL there")
    if offenders:
        print("Only src/pg/catalog/ reads or writes pg_incview's tables (docs/design.md): move the "
              "statements into a function there and call it.")
    return offenders, stale


SELF_TEST_FILES = {
    "src/pg/catalog/rows.cpp": 'spi_exec("DELETE FROM incview.dirty_scope WHERE stage_id = $1");\n',
    "src/pg/allowed/old.cpp": 'spi_exec("SELECT 1 FROM incview.stage");\n',
    "src/pg/x/bad.cpp": (
        '// reads incview.stage in a comment: fine\n'                        # 1
        '/* incview.stage_state in a block comment: fine */\n'               # 2
        'spi_exec("SELECT 1 FROM incview.stage_state WHERE x = \'\\"\'");\n'  # 3: offender
        'spi_exec("INSERT INTO incview."\n'                                 # 4: offender (joined)
        '         "dirty_scope (stage_id) VALUES (1)");\n'                  # 5
        'auto q = R"SQL(\nDELETE FROM incview.stage_index\n)SQL";\n'        # 6: offender (raw)
        'hint("see SELECT * FROM incview.citus_source");  // not SQL: a hint\n'  # 9
        'spi_exec("SELECT * FROM incview.stages");  // a view over our tables\n'   # 10: offender
        "char c = '\"'; spi_exec(\"UPDATE incview.refresh_log SET x = 1\");\n"  # 11: offender
        'hint("see the view "  // not SQL: a hint, joined to the next line\n'    # 12
        '     "incview.stages");\n'                                           # 13
        'spi_exec("DELETE FROM incview.stage");\n'                          # 14: offender
        'Oid rel = get_relname_relid("source_change", ns);\n'              # 15: offender (bare name)
        'auto s = capture_statement(spec, event);  // capture_statement( in a comment: fine\n'  # 16: offender
        'log("stage_state of a stage");  // a literal with more than the name: fine\n'  # 17
    ),
    "src/pg/catalog/queue.cpp": 'spi_exec(queue_keys_statement(), args);\n',
    "src/pg/x/bad.hpp": 'constexpr const char* kSql = "SELECT source FROM incview.stage_source";\n',
}
SELF_TEST_EXPECTED = [
    ("src/pg/x/bad.cpp", 3, "stage_state"),
    ("src/pg/x/bad.cpp", 4, "dirty_scope"),
    ("src/pg/x/bad.cpp", 6, "stage_index"),
    ("src/pg/x/bad.cpp", 10, "stages"),
    ("src/pg/x/bad.cpp", 11, "refresh_log"),
    ("src/pg/x/bad.cpp", 14, "stage"),
    ("src/pg/x/bad.cpp", 15, "source_change (by name)"),
    ("src/pg/x/bad.cpp", 16, "capture_statement()"),
    ("src/pg/x/bad.hpp", 1, "stage_source"),
]


def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        for rel, text in SELF_TEST_FILES.items():
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                f.write(text)
        offenders, stale = report(scan(root), {"src/pg/allowed/old.cpp", "src/pg/allowed/moved.cpp"})
    ok = offenders == SELF_TEST_EXPECTED and stale == ["src/pg/allowed/moved.cpp"]
    print("self-test: " + ("ok" if ok else f"FAILED: found {offenders}, stale {stale}; "
                                            f"expected {SELF_TEST_EXPECTED}, stale ['src/pg/allowed/moved.cpp']"))
    return 0 if ok else 1


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    count = "--count" in argv
    args = [a for a in argv[1:] if a != "--count"]
    if len(args) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    found = scan(root)
    if count:
        for t in TABLES:
            files = sorted(p for p, hits in found.items() if any(h[1].split(" ")[0] == t for h in hits))
            print(f"incview.{t}: {len(files)} file(s)" + ("".join("\n  " + p for p in files)))
        print(f"files outside src/pg/catalog/ with SQL on our tables: {len(found)}")
        return 0
    offenders, stale = report(found, ALLOWED)
    if offenders:
        return 1
    print(f"catalog layer: ok ({len(ALLOWED) - len(stale)} file(s) on the allow-list still to move)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
