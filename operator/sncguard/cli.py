"""The `sncguard` command: run (the operator), check (offline), report (evidence packs), crds (the generated CRDs)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .i18n import LANGUAGES, SOURCE_LANGUAGE, msg

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


NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def parse_namespace(text: str) -> str:
    if not NAMESPACE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a namespace name (a DNS label: a-z, 0-9, '-')")
    return text


def information_uri() -> str | None:
    """The project's page from the installed package's metadata (Project-URL, Home-page), if it names one."""
    from importlib import metadata

    try:
        meta = metadata.metadata("sncguard")
    except metadata.PackageNotFoundError:
        return None
    urls = [u.partition(",")[2].strip() for u in meta.get_all("Project-URL") or []]
    return next((u for u in [*urls, meta.get("Home-page")] if u and u.startswith("https://")), None)


def emit(write: Callable[[], None]) -> None:
    """Write the report to standard output; a reader that left (`| head -1`) ends it quietly.

    As Python's documentation recommends for SIGPIPE: on BrokenPipeError, point standard output
    at devnull so that the interpreter's last flush at exit does not fail again; the exit status
    still is the one the findings deserve."""
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def cmd_check(args: argparse.Namespace) -> int:
    # One pass over tens of thousands of small objects, all kept to the end: the cyclic collector
    # would scan them again and again for cycles they do not form (a quarter of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _check(args)
    finally:
        if collecting:
            gc.enable()


def _check(args: argparse.Namespace) -> int:
    from .check import run_check, write_errors, write_json, write_text
    from .loader import InputError, load

    try:
        now = parse_now(args.now)
        inputs = load(args.paths, namespace=args.namespace)
    except (InputError, argparse.ArgumentTypeError) as exc:
        print(f"sncguard check: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    out, language = sys.stdout, args.language
    report = run_check(inputs, now)
    write_errors(report, sys.stderr, language)
    if inputs.errors and len(inputs.errors) == inputs.documents:
        nothing = msg("no usable document, nothing evaluated")
        print(f"sncguard check: {nothing.render(language)}", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.output == "json":
        emit(lambda: write_json(report, out, language))
    elif args.output == "sarif":
        from .sarif import to_sarif

        log = to_sarif(report, language, information_uri=information_uri())
        emit(lambda: (json.dump(log, out, ensure_ascii=False, indent=2), out.write("\n")))
    elif args.output == "junit":
        from .junit import render

        emit(lambda: out.write(render(report, language)))
    else:
        emit(lambda: write_text(report, out, language, verbose=args.verbose))
    return EXIT_FAILED if report.failed or report.errors else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from .evidence.report import report

    try:
        now = parse_now(args.now)
    except argparse.ArgumentTypeError as exc:
        print(f"sncguard report: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    return report(args.paths, output_dir=args.output_dir, language=args.language, now=now, tenants=args.tenant,
                  namespace=args.namespace, kubeconfig=args.kubeconfig, context=args.context)


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
        qps=args.qps,
        burst=args.burst,
        leader_election=args.leader_election,
        leader_election_namespace=args.leader_election_namespace,
        lease_duration=args.leader_election_lease_duration,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sncguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator against the current kubeconfig or in-cluster account")
    run.add_argument("--liveness", default="http://0.0.0.0:8080/healthz",
                     help="liveness endpoint URL (default %(default)s)")
    run.add_argument("--language", choices=LANGUAGES, default=SOURCE_LANGUAGE, help="language of status messages")
    run.add_argument("--metrics-address", default="127.0.0.1:9090",
                     help="host:port of the Prometheus endpoint, empty to disable (default %(default)s)")
    run.add_argument("--debounce", type=float, default=0.2,
                     help="seconds to gather a burst of changes into one evaluation (default %(default)s)")
    run.add_argument("--no-compliance-events", dest="compliance_events", action="store_false",
                     help="post no Event when a policy's compliance flips (the status still says it): "
                          "exactly one write per effective change")
    run.add_argument("--no-leader-election", dest="leader_election", action="store_false",
                     help="run as the only replica: no Lease, evaluate and write at once")
    run.add_argument("--leader-election-namespace", default=None,
                     help="namespace of the Lease sncguard-leader (default: the service account's, else default)")
    run.add_argument("--leader-election-lease-duration", type=float, default=12.0,
                     help="seconds without renewal after which a standby takes over (default %(default)s)")
    run.add_argument("--qps", type=float, default=200.0,
                     help="sncguard's own API requests per second on average, 0 for no limit (default %(default)s)")
    run.add_argument("--burst", type=int, default=1000,
                     help="API requests sncguard may make at once above --qps (default %(default)s)")
    run.add_argument("-v", "--verbose", action="store_true")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="evaluate YAML manifests offline with the operator's rules")
    check.add_argument("paths", nargs="+",
                       help="files or folders of manifests (multi-document, lists); "
                            "- or /dev/stdin reads standard input")
    check.add_argument("-o", "--output", choices=("text", "json", "sarif", "junit"), default="text",
                       help="text (default), json (the findings), sarif (2.1.0, for code scanning), "
                            "junit (XML, for CI test reports)")
    check.add_argument("-n", "--namespace", type=parse_namespace, default="default",
                       help="namespace of namespaced objects that name none, as kubectl apply -n (default %(default)s)")
    check.add_argument("--now", help="fix the clock (RFC 3339) for reproducible runs")
    check.add_argument("--language", choices=LANGUAGES, default=SOURCE_LANGUAGE)
    check.add_argument("-v", "--verbose", action="store_true", help="text output also lists passes and skips")
    check.set_defaults(func=cmd_check)

    report = sub.add_parser("report", help="write evidence packs (HTML and JSON) per tenant and for the platform")
    report.add_argument("paths", nargs="*",
                        help="files or folders of manifests, as for check; none reads the cluster of the kubeconfig")
    report.add_argument("--output-dir", "-d", default="sncguard-report", metavar="DIR",
                        help="where to write <tenant>.html/.json and platform.html/.json (default %(default)s)")
    report.add_argument("--tenant", action="append", default=[], metavar="NAME",
                        help="only this tenant's pack (its name or its TenantPolicy's; repeatable), no platform pack")
    report.add_argument("--language", choices=LANGUAGES, default=SOURCE_LANGUAGE)
    report.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)")
    report.add_argument("--context", help="kubeconfig context (default: the current one)")
    report.add_argument("-n", "--namespace", type=parse_namespace, default="default",
                        help="namespace of namespaced objects that name none, as for check (default %(default)s)")
    report.add_argument("--now", help="fix the clock (RFC 3339) for reproducible packs")
    report.set_defaults(func=cmd_report)

    crds = sub.add_parser("crds", help="print the generated CustomResourceDefinitions")
    crds.add_argument("--write", metavar="DIR", help="write one file per CRD into DIR instead")
    crds.set_defaults(func=cmd_crds)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
