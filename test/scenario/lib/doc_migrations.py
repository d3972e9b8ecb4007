#!/usr/bin/env python3
"""Turns the migrations of docs/frameworks.md into files the scenario can run.

  extract DOC OUTDIR        every fenced block preceded by "<!-- file: PATH -->" -> OUTDIR/PATH
  ecto FILE OUTDIR          an Ecto migration -> OUTDIR/up.sql, OUTDIR/down.sql (its execute
                            heredocs, in order) and OUTDIR/notx when @disable_ddl_transaction
  liquibase CHANGELOG OUTDIR  a formatted-SQL changelog -> OUTDIR/NN.sql, OUTDIR/NN.rollback.sql
                            and OUTDIR/NN.notx for runInTransaction:false
"""
import pathlib
import re
import sys


def extract(doc, outdir):
    text = pathlib.Path(doc).read_text()
    found = re.findall(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)\n```", text, re.S)
    if not found:
        sys.exit("no <!-- file: --> blocks in " + doc)
    for path, body in found:
        target = pathlib.Path(outdir) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body + "\n")
        print(path)


def heredocs(elixir):
    return [textwrap_dedent(h) for h in re.findall(r'execute\s+"""\n(.*?)\n\s*"""', elixir, re.S)]


def textwrap_dedent(s):
    import textwrap
    return textwrap.dedent(s).strip()


def ecto(path, outdir):
    src = pathlib.Path(path).read_text()
    up, down = src.split("def down", 1)
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("up", up), ("down", down)):
        sql = heredocs(part)
        if not sql:
            sys.exit(f"{path}: no execute heredoc in {name}")
        (out / f"{name}.sql").write_text(";\n".join(sql) + ";\n")
    if re.search(r"@disable_ddl_transaction\s+true", src):
        (out / "notx").write_text("")


def liquibase(path, outdir):
    text = pathlib.Path(path).read_text()
    if not text.startswith("--liquibase formatted sql"):
        sys.exit(f"{path}: not a formatted SQL changelog")
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    sets = re.split(r"^--changeset (.*)$", text, flags=re.M)[1:]
    for i in range(0, len(sets), 2):
        header, body = sets[i], sets[i + 1]
        n = f"{i // 2 + 1:02d}"
        rollback = [l[len("--rollback "):] for l in body.splitlines() if l.startswith("--rollback ")]
        sql = "\n".join(l for l in body.splitlines() if not l.startswith("--rollback "))
        (out / f"{n}.sql").write_text(sql.strip() + "\n")
        (out / f"{n}.rollback.sql").write_text("\n".join(rollback) + "\n")
        if "runInTransaction:false" in header:
            (out / f"{n}.notx").write_text("")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"extract": extract, "ecto": ecto, "liquibase": liquibase}[cmd](*args)
