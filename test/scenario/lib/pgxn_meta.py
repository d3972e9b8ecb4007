#!/usr/bin/env python3
"""Validates a META.json against the PGXN Meta Spec v1.0.0 (https://pgxn.org/spec/):
required keys and their types, semantic versions, license names, prereq phases and
relations, release_status, resources. PGXN::Meta::Validator and pgxn_utils are not
packaged in Debian (apt-cache search pgxn finds only the pgxnclient); the patterns below
follow the spec's JSON schemas for v1 (pgxn/meta, schema/v1: term, tags, version,
version_range, license).

  pgxn_meta.py META.json        exit 0 when valid; else one line per problem, exit 1
"""
import json
import re
import sys

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
                    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")
# A prereq: a version, or a range of comparisons (">= 1.2.0, != 1.5.0, < 2.0.0"); "0" = any.
RANGE_PART = re.compile(r"^\s*(==|!=|>=|<=|>|<)?\s*(\S+)\s*$")
LICENSES = {  # the spec's "known" license strings
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd", "gfdl_1_2",
    "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1",
    "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source",
    "restricted", "unrestricted", "unknown",
}
PHASES = {"configure", "build", "runtime", "test", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}
STATUSES = {"stable", "testing", "unstable"}
TERM = re.compile(r"^[^\s/\\\x00-\x1f\x7f]{2,}$")  # 2+ characters, no whitespace, slashes or controls
TAG = re.compile(r"^[^/\\\x00-\x1f\x7f]{2,255}$")  # 2-255 characters, no slashes or control characters
URI = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")


def validate(meta):
    errors = []

    def need(obj, key, where):
        if key not in obj:
            errors.append(f"{where}: required key '{key}' missing")
            return False
        return True

    def is_str(v):
        return isinstance(v, str) and v != ""

    def version(v, where):
        if not (isinstance(v, str) and SEMVER.match(v)):
            errors.append(f"{where}: '{v}' is not a semantic version (x.y.z)")

    if not isinstance(meta, dict):
        return ["top level: not an object"]
    for key in ("name", "version", "abstract", "maintainer", "license", "provides", "meta-spec"):
        need(meta, key, "top level")
    if "name" in meta and not (isinstance(meta["name"], str) and TERM.match(meta["name"])):
        errors.append("name: must be a term (2+ characters, no whitespace or slashes)")
    if "version" in meta:
        version(meta["version"], "version")
    if "abstract" in meta and not is_str(meta["abstract"]):
        errors.append("abstract: must be a non-empty string")
    if "description" in meta and not is_str(meta["description"]):
        errors.append("description: must be a non-empty string")
    if "maintainer" in meta:
        m = meta["maintainer"]
        if not (is_str(m) or (isinstance(m, list) and m and all(is_str(x) for x in m))):
            errors.append("maintainer: must be a string or a non-empty array of strings")
    if "license" in meta:
        lic = meta["license"]
        if isinstance(lic, str):
            if lic not in LICENSES:
                errors.append(f"license: '{lic}' is not a known license string")
        elif isinstance(lic, list):
            if not lic or any(x not in LICENSES for x in lic):
                errors.append("license: an array must list known license strings")
        elif isinstance(lic, dict):
            if not lic or any(not (is_str(k) and isinstance(v, str) and URI.match(v)) for k, v in lic.items()):
                errors.append("license: an object must map license names to URLs")
        else:
            errors.append("license: must be a string, an array or an object")
    if "provides" in meta:
        p = meta["provides"]
        if not (isinstance(p, dict) and p):
            errors.append("provides: must be a non-empty object")
        else:
            for ext, spec in p.items():
                where = f"provides.{ext}"
                if not TERM.match(ext):
                    errors.append(f"{where}: extension name must be a term")
                if not isinstance(spec, dict):
                    errors.append(f"{where}: must be an object")
                    continue
                if need(spec, "file", where) and not is_str(spec["file"]):
                    errors.append(f"{where}.file: must be a path")
                if need(spec, "version", where):
                    version(spec["version"], f"{where}.version")
                for k in ("abstract", "docfile"):
                    if k in spec and not is_str(spec[k]):
                        errors.append(f"{where}.{k}: must be a non-empty string")
    if "meta-spec" in meta:
        ms = meta["meta-spec"]
        if not isinstance(ms, dict):
            errors.append("meta-spec: must be an object")
        elif need(ms, "version", "meta-spec"):
            if ms["version"] != "1.0.0":
                errors.append("meta-spec.version: must be 1.0.0 for this spec")
            if "url" in ms and not (isinstance(ms["url"], str) and URI.match(ms["url"])):
                errors.append("meta-spec.url: must be a URL")
    if "generated_by" in meta and not is_str(meta["generated_by"]):
        errors.append("generated_by: must be a non-empty string")
    if "tags" in meta:
        t = meta["tags"]
        if not (isinstance(t, list) and t and all(isinstance(x, str) and TAG.match(x) for x in t)):
            errors.append("tags: must be a non-empty array of tags (1-255 characters, no slashes)")
    if "release_status" in meta and meta["release_status"] not in STATUSES:
        errors.append(f"release_status: must be one of {sorted(STATUSES)}")
    if "prereqs" in meta:
        pr = meta["prereqs"]
        if not isinstance(pr, dict):
            errors.append("prereqs: must be an object")
        else:
            for phase, rels in pr.items():
                if phase not in PHASES:
                    errors.append(f"prereqs.{phase}: unknown phase")
                    continue
                if not isinstance(rels, dict):
                    errors.append(f"prereqs.{phase}: must be an object")
                    continue
                for rel, deps in rels.items():
                    if rel not in RELATIONS:
                        errors.append(f"prereqs.{phase}.{rel}: unknown relation")
                        continue
                    if not isinstance(deps, dict):
                        errors.append(f"prereqs.{phase}.{rel}: must be an object")
                        continue
                    for name, ver in deps.items():
                        where = f"prereqs.{phase}.{rel}.{name}"
                        if isinstance(ver, int) and ver == 0:
                            continue
                        if not isinstance(ver, str):
                            errors.append(f"{where}: must be a version string")
                            continue
                        for part in ver.split(","):
                            m = RANGE_PART.match(part)
                            if not m or not (m.group(2) == "0" or SEMVER.match(m.group(2))):
                                errors.append(f"{where}: '{ver}' is not a version or version range")
                                break
    if "resources" in meta:
        res = meta["resources"]
        if not isinstance(res, dict):
            errors.append("resources: must be an object")
        else:
            if "homepage" in res and not (isinstance(res["homepage"], str) and URI.match(res["homepage"])):
                errors.append("resources.homepage: must be a URL")
            for k in ("bugtracker", "repository"):
                if k in res:
                    if not isinstance(res[k], dict):
                        errors.append(f"resources.{k}: must be an object")
                    else:
                        for f in ("web", "url"):
                            if f in res[k] and not (isinstance(res[k][f], str) and URI.match(res[k][f])):
                                errors.append(f"resources.{k}.{f}: must be a URL")
    if "no_index" in meta:
        ni = meta["no_index"]
        if not (isinstance(ni, dict) and all(k in ("file", "directory") and isinstance(v, list) for k, v in ni.items())):
            errors.append("no_index: must map file/directory to arrays of paths")
    for key in meta:
        if key not in {"name", "version", "abstract", "maintainer", "license", "provides", "meta-spec",
                       "description", "generated_by", "tags", "release_status", "prereqs", "resources",
                       "no_index"} and not key.lower().startswith("x_"):
            errors.append(f"{key}: unknown key (custom keys start with x_ or X_)")
    return errors


if __name__ == "__main__":
    try:
        meta = json.load(open(sys.argv[1]))
    except ValueError as e:
        print(f"not JSON: {e}")
        sys.exit(1)
    problems = validate(meta)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)
