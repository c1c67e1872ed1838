"""The `sncguard` command: run (the operator), check (offline), crds (the generated CRDs)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


def parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--now {text!r} is not an RFC 3339 time such as 2026-11-22T10:00:00Z") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--now {text!r} needs a time zone, e.g. a trailing Z")
    return moment.astimezone(UTC)


def cmd_check(args: argparse.Namespace) -> int:
    from .check import run_check, write_json, write_text
    from .loader import InputError, load

    try:
        now = parse_now(args.now)
        inputs = load(args.paths)
    except (InputError, argparse.ArgumentTypeError) as exc:
        print(f"sncguard check: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    report = run_check(inputs, now)
    if args.output == "json":
        write_json(report, sys.stdout, args.language)
    else:
        write_text(report, sys.stdout, args.language, verbose=args.verbose)
    return EXIT_FAILED if report.failed else EXIT_OK


def cmd_crds(args: argparse.Namespace) -> int:
    from . import crdgen

    if args.write:
        target = Path(args.write)
        target.mkdir(parents=True, exist_ok=True)
        for kind in crdgen.KINDS:
            (target / crdgen.file_name(kind)).write_text(crdgen.render(kind), encoding="utf-8")
        return EXIT_OK
    sys.stdout.write(crdgen.render_all())
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .controller.runner import run_operator

    return run_operator(
        liveness=args.liveness,
        language=args.language,
        verbose=args.verbose,
        debounce=args.debounce,
        metrics=args.metrics_address,
        compliance_events=args.compliance_events,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sncguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator against the current kubeconfig or in-cluster account")
    run.add_argument("--liveness", default="http://0.0.0.0:8080/healthz",
                     help="liveness endpoint URL (default %(default)s)")
    run.add_argument("--language", choices=("en", "fr"), default="en", help="language of status messages")
    run.add_argument("--metrics-address", default="127.0.0.1:9090",
                     help="host:port of the Prometheus endpoint, empty to disable (default %(default)s)")
    run.add_argument("--debounce", type=float, default=0.2,
                     help="seconds to gather a burst of changes into one evaluation (default %(default)s)")
    run.add_argument("--no-compliance-events", dest="compliance_events", action="store_false",
                     help="post no Event when a policy's compliance flips (the status still says it): "
                          "exactly one write per effective change")
    run.add_argument("-v", "--verbose", action="store_true")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="evaluate YAML manifests offline with the operator's rules")
    check.add_argument("paths", nargs="+", help="files or folders of manifests (multi-document, lists)")
    check.add_argument("-o", "--output", choices=("text", "json"), default="text")
    check.add_argument("--now", help="fix the clock (RFC 3339) for reproducible runs")
    check.add_argument("--language", choices=("en", "fr"), default="en")
    check.add_argument("-v", "--verbose", action="store_true", help="text output also lists passes and skips")
    check.set_defaults(func=cmd_check)

    crds = sub.add_parser("crds", help="print the generated CustomResourceDefinitions")
    crds.add_argument("--write", metavar="DIR", help="write one file per CRD into DIR instead")
    crds.set_defaults(func=cmd_crds)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
