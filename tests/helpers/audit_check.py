#!/usr/bin/python3
"""Strict readers of noselfconn --audit output, for the bats tests.

  audit_check.py json FILE        the raw bytes decoded as strict UTF-8, parsed
                                  by json; prints every leaf as PATH=VALUE (the
                                  value JSON-encoded, ASCII), one per line
  audit_check.py prometheus FILE  parsed by prometheus_client's reference
                                  parser; prints NAME{LABELS} VALUE per sample
                                  and TYPE NAME KIND per family
Exits non-zero (with the reason) when the file does not parse.
"""
import json
import sys


def leaves(value, path):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}.{i}" if path else str(i))
        if not value:
            yield path, value
    else:
        yield path, value


def check_json(raw):
    text = raw.decode("utf-8", "strict")
    report = json.loads(text)
    for path, value in leaves(report, ""):
        print(f"{path}={json.dumps(value)}")


def check_prometheus(raw):
    from prometheus_client.parser import text_string_to_metric_families

    text = raw.decode("utf-8", "strict")
    for family in text_string_to_metric_families(text):
        print(f"TYPE {family.name} {family.type}")
        if not family.documentation:
            raise SystemExit(f"{family.name}: no HELP")
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            print(f"{sample.name}{{{labels}}} {sample.value:g}")


def main():
    kind, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        raw = f.read()
    {"json": check_json, "prometheus": check_prometheus}[kind](raw)


if __name__ == "__main__":
    main()
