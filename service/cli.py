"""The `loket` command: import, photo, serve, demo-data. Messages in Dutch."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.application import LoketService

from service.aggregates.errors import DomainError

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_STORE = 0, 1, 2, 3


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is geen ISO 8601-tijdstip (bv. 2026-02-25T12:00:00+01:00)") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"'{text}' mist een tijdzone (bv. +01:00)")
    if not 2000 <= moment.year <= 2100:
        raise argparse.ArgumentTypeError(f"'{text}' ligt niet tussen 2000 en 2100")
    return moment


def _year(text: str) -> int:
    if not text.isdigit() or not 2000 <= int(text) <= 2100:
        raise argparse.ArgumentTypeError(f"'{text}' is geen rapporteringsjaar (bv. 2025)")
    return int(text)


def cmd_import(args: argparse.Namespace) -> int:
    from service.bootstrap import build
    from service.importer import FileRefused, import_history

    service = build()
    try:
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            with open(args.file, "rb") as handle:  # by blocks: a hostile line of hundreds of MB is never held
                total = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
            bar = tqdm(total=total, unit="regel", desc="importeren", file=sys.stderr)
        try:
            report = import_history(service, Path(args.file), on_progress=bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        service.figures.ready(wait=60.0)  # the figures view takes the history in now, not at the first photo
    except FileRefused as refused:
        print(f"Bestand geweigerd, er werd niets geregistreerd ({args.file}):", file=sys.stderr)
        for number, message in refused.problems:
            print(f"  regel {number}: {message}" if number else f"  {message}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        service.close()
    for number, message in report.refused:
        print(f"regel {number} geweigerd: {message}", file=sys.stderr)
    if report.applied:
        _logged(lambda s: s.access_log.record(_operator(), "cli", "wijziging", None,
                                              f"import {Path(args.file).name}: {report.applied} regels", "cli"))
    print(
        f"{report.lines} regels: {report.applied} toegepast, {report.already_recorded} al eerder geregistreerd, "
        f"{len(report.refused)} geweigerd."
    )
    return EXIT_OK if report.ok else EXIT_REFUSED


class StoreMissing(Exception):
    """A read-only command named a store that does not exist."""


@contextmanager
def _existing_store(catch_up: bool = False, create: bool = False) -> Iterator[LoketService]:
    """The configured store, refusing one that does not exist (a typo never reads as an empty loket).

    It does not chain rows it finds unchained: a command that only reads or checks must never
    make a row added behind the service's back look intact.
    """
    from service.bootstrap import build
    from service.settings import Settings

    settings = Settings()
    if not create and not settings.is_postgres and not settings.sqlite_path.exists():
        raise StoreMissing(
            f"Er is geen opslag op {settings.sqlite_path}: importeer eerst een geschiedenis, of zet LOKET_STORE "
            "op de juiste opslag (bv. sqlite:///$PWD/var/demo.sqlite na make demo)."
        )
    service = build(settings, catch_up=catch_up)
    try:
        yield service
    finally:
        service.close()


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def cmd_photo(args: argparse.Namespace) -> int:
    from service.photos import PhotoBook
    from service.reports import photo_csv_bytes, photo_json, photo_workbook

    with _existing_store() as service:
        if args.take:
            book = PhotoBook(service)
            taken = book.take(args.year, args.as_of, args.by)
            _print_json(taken)
            if args.out:  # the workbook of the stored photo: it carries the photo's id and the chain head
                return _write(args.out, book.workbook(taken["id"]), f"Werkboek van de genomen foto {args.year}")
            return EXIT_OK
        photo = service.photo(args.year, args.as_of)
    if args.format == "json":
        data = photo_json(photo).encode()
    elif args.format == "csv":
        data = photo_csv_bytes(photo)
    else:
        data = photo_workbook(photo)
        if args.out is None and sys.stdout.isatty():
            print("Een werkboek schrijf je naar een bestand: gebruik --out PAD.xlsx", file=sys.stderr)
            return EXIT_USAGE
    if args.out:
        return _write(args.out, data, f"Foto {args.year}")
    sys.stdout.buffer.write(data)
    return EXIT_OK


def _write(path: str, data: bytes, what: str) -> int:
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        print(f"Kan {path} niet schrijven: {_os_reason(error)}.", file=sys.stderr)
        return EXIT_USAGE
    print(f"{what} geschreven naar {path}", file=sys.stderr)
    return EXIT_OK


def _os_reason(error: OSError) -> str:
    import errno

    return {errno.ENOENT: "die map of dat bestand bestaat niet", errno.EACCES: "geen toegang",
            errno.EISDIR: "het is een map", errno.ENOSPC: "de schijf is vol"}.get(error.errno or 0, str(error.strerror))


def cmd_photos(args: argparse.Namespace) -> int:
    from service.photos import PhotoBook

    with _existing_store() as service:
        book = PhotoBook(service)
        if args.workbook:
            if not args.out:
                print("Geef --out PAD.xlsx voor het werkboek van een genomen foto.", file=sys.stderr)
                return EXIT_USAGE
            return _write(args.out, book.workbook(args.workbook), f"Werkboek van foto {args.workbook}")
        _print_json(book.listing())
    return EXIT_OK


def _log_intact(service: LoketService) -> bool:
    """A rebuild is only worth something on an intact log: check the chain first."""
    result = service.ledger.verify()
    if not result.ok:
        print(f"Logboek NIET intact: eerste fout op positie {result.first_bad_position}. {result.reason} "
              "Herbouwde cijfers zouden niets bewijzen.", file=sys.stderr)
    return result.ok


def cmd_verify_photo(args: argparse.Namespace) -> int:
    from service.photos import PhotoBook

    with _existing_store() as service:
        if not _log_intact(service):
            return EXIT_REFUSED
        rebuilds = PhotoBook(service).verify(args.year)
    if not rebuilds:
        print(f"Er is geen genomen foto van {args.year} om te controleren.", file=sys.stderr)
        return EXIT_USAGE
    for r in rebuilds:
        head = f"foto {args.year} op {r.stored['as_of']} (positie {r.stored['position']}, {r.stored['rules']})"
        if r.identical:
            print(f"{head}: herbouwd en identiek (id {r.stored['id']}, cijfers {r.figures_digest}, "
                  f"werkboek {r.workbook_digest})")
            continue
        print(f"{head}: VERSCHILT bij herbouw")
        for line in r.differing_figures:
            print(f"  cijfer {line}")
        if r.differing_requests:
            print(f"  dossiers anders ingedeeld: {', '.join(r.differing_requests)}")
    return EXIT_OK if all(r.identical for r in rebuilds) else EXIT_REFUSED


def cmd_restatement(args: argparse.Namespace) -> int:
    from service.photos import PhotoBook

    with _existing_store() as service:
        _print_json(PhotoBook(service).restatement(args.year, args.as_of))
    return EXIT_OK


def cmd_verify_workbook(args: argparse.Namespace) -> int:
    from service.photos import PhotoBook
    from service.reports.read_xlsx import WorkbookRefused

    try:
        data = Path(args.file).read_bytes()
    except OSError as error:
        print(f"Kan {args.file} niet lezen: {_os_reason(error)}.", file=sys.stderr)
        return EXIT_USAGE
    with _existing_store() as service:
        if not _log_intact(service):
            return EXIT_REFUSED
        try:
            result = PhotoBook(service).verify_workbook(data)
        except WorkbookRefused as error:
            print(f"Werkboek geweigerd: {error.message}", file=sys.stderr)
            return EXIT_USAGE
    where = f"foto {result['year']} op {result['as_of']} (positie {result['position']})"
    if result["equal"]:
        print(f"{args.file}: alle cijfers gelijk aan de herbouwde genomen {where}, id {result['stored_photo']}; "
              "het logboek is intact" + (" en toont de ketenkop van het werkboek." if result.get("chain_checked") else "."))
        return EXIT_OK
    print(f"{args.file}: VERSCHILT van de herbouwde {where}:")
    for line in result["differences"]:
        print(f"  {line}")
    return EXIT_REFUSED


def cmd_verify_log(args: argparse.Namespace) -> int:
    from service.photos import PhotoBook

    with _existing_store() as service:
        result = service.ledger.verify()  # the rows first: a damaged photo row is named, not decoded
        anchors: list[tuple[int, str]] = []
        if result.ok:
            anchors = [(e.chain_position, e.chain_head) for e in PhotoBook(service).stored()
                       if e.chain_position is not None]
            result = service.ledger.verify(anchors=anchors)
    if result.ok:
        print(f"Logboek intact: {result.checked} gebeurtenissen gecontroleerd, {len(anchors)} foto's als ankers. "
              f"Kop: positie {result.head_position}, schakel {result.head_link}.")
        return EXIT_OK
    print(f"Logboek NIET intact: eerste fout op positie {result.first_bad_position}. {result.reason}", file=sys.stderr)
    return EXIT_REFUSED


def cmd_export(args: argparse.Namespace) -> int:
    from service import archive

    with _existing_store() as service:
        try:
            report = archive.export(service.settings, Path(args.file))
        except archive.ArchiveRefused as error:
            print(f"Archief niet geschreven: {error}", file=sys.stderr)
            return EXIT_REFUSED
        except OSError as error:
            print(f"Kan {args.file} niet schrijven: {_os_reason(error)}.", file=sys.stderr)
            return EXIT_USAGE
    print(f"Archief geschreven naar {args.file}: {report.events} gebeurtenissen, "
          f"kop positie {report.head[0]}, schakel {report.head[1]}.")
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from service.backup import BackupFailed, backup

    with _existing_store() as service:
        try:
            manifest = backup(service.settings, Path(args.folder))
        except BackupFailed as error:
            print(f"Back-up niet gemaakt: {error}", file=sys.stderr)
            return EXIT_USAGE
        except OSError as error:
            print(f"Kan {args.folder} niet schrijven: {_os_reason(error)}.", file=sys.stderr)
            return EXIT_USAGE
    print(f"Back-up in {args.folder}: {', '.join(manifest['files'])} en MANIFEST.json "
          f"({manifest['events_in_archive']} gebeurtenissen, kop positie {manifest['chain_head']['position']}). "
          "De geheimen zitten er niet in: bewaar ze apart. Terugzetten: docs/reliability.md.")
    return EXIT_OK


def cmd_import_archive(args: argparse.Namespace) -> int:
    from service import archive
    from service.settings import Settings

    try:
        report = archive.import_archive(Settings(), Path(args.file))
    except archive.ArchiveRefused as error:
        print(f"Archief geweigerd, er werd niets geladen: {error}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"Archief {args.file} geladen: {report.events} gebeurtenissen, kop positie {report.head[0]}, "
          f"schakel {report.head[1]}. Controleer met loket verify-log en loket verify-photo JAAR.")
    return EXIT_OK


def cmd_rebuild_views(args: argparse.Namespace) -> int:
    """The figures view dropped and built again from the whole event log (one transaction)."""
    import time

    with _existing_store() as service:
        started = time.perf_counter()
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=service.events.recorder.max_notification_id() or 0, unit="positie",
                       desc="cijferweergave", file=sys.stderr)

        def progress(position: int, head: int) -> None:
            if bar is not None:
                bar.update(position - bar.n)

        try:
            position = service.figures.rebuild(progress=progress)
        finally:
            if bar is not None:
                bar.close()
        size = service.figures.size()
    print(f"Cijferweergave herbouwd tot positie {position}: {size['rows']} rijen, {size['moments']} momenten, "
          f"in {time.perf_counter() - started:.1f} s.")
    return EXIT_OK


def cmd_drill(args: argparse.Namespace) -> int:
    from service.photos import PhotoBook

    with _existing_store() as service:
        _print_json(PhotoBook(service).drill(args.year, args.municipality, args.category, args.bucket, args.as_of))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.api.app import create_app

    app = create_app()
    if not app.state.service.accounts.any():
        store = os.environ.get("LOKET_STORE")
        prefix = f"LOKET_STORE={store} " if store else ""
        print("Er is nog geen account. Maak het eerste beheerdersaccount in een ander venster:\n"
              f"    {prefix}.venv/bin/loket user add NAAM --role admin --generate   (wachtwoord één keer getoond)\n"
              f"    {prefix}.venv/bin/loket user add NAAM --role admin              (wachtwoord via standaardinvoer)\n"
              "en meld aan met POST /api/token (zie README).", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Let op: de dienst luistert op {args.host}. Zet er een TLS-proxy voor (zie docs/security.md); "
              "zonder TLS gaan wachtwoorden en tokens onversleuteld over het netwerk.", file=sys.stderr)
    print(f"De dienst luistert op http://{args.host}:{args.port}: aanmelden op /aanmelden, publieke cijfers op "
          "/cijfers, API-documentatie op /docs.", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return EXIT_OK


# ------------------------------------------------------------------ accounts

def _operator() -> str:
    """Who runs the command on this machine (the access log names them)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "onbekend"


def _logged(write: Any) -> None:
    from service.bootstrap import build

    service = build()
    try:
        write(service)
    finally:
        service.close()


def _read_password(generate: bool) -> tuple[str, bool]:
    """The new password: generated, typed twice at a terminal, or the first line of standard input."""
    import getpass

    from service.accounts import generated_password

    if generate:
        return generated_password(), True
    if sys.stdin.isatty():
        first = getpass.getpass("Nieuw wachtwoord: ")
        if getpass.getpass("Nogmaals: ") != first:
            raise SystemExit("De twee wachtwoorden verschillen; er werd niets gewijzigd.")
        return first, False
    return sys.stdin.readline().rstrip("\r\n"), False


def cmd_user(args: argparse.Namespace) -> int:
    from service.accounts import ROLE_NL, AccountError

    with _existing_store(catch_up=True, create=args.action == "add") as service:
        try:
            if args.action == "list":
                for a in service.accounts.all():
                    where = f" ({', '.join(a.locations)})" if a.locations else ""
                    state = "" if a.active else "  [uitgeschakeld]"
                    print(f"{a.name}\t{a.role} = {ROLE_NL[a.role]}{where}{state}")
                return EXIT_OK
            if args.action == "add":
                password, shown = _read_password(args.generate)
                service.check_locations(args.location)
                account = service.accounts.add(args.name, args.role, password, tuple(args.location))
                what = f"aangemaakt als {account.role}"
            elif args.action == "password":
                password, shown = _read_password(args.generate)
                service.accounts.set_password(args.name, password)
                what = "nieuw wachtwoord"
            else:
                shown = False
                service.accounts.set_active(args.name, args.action == "enable")
                what = "ingeschakeld" if args.action == "enable" else "uitgeschakeld"
        except AccountError as error:
            print(f"Geweigerd ({error.field}): {error.message}.", file=sys.stderr)
            return EXIT_REFUSED
        service.access_log.record(_operator(), "cli", "beheer", None, f"account {args.name}: {what}", "cli")
    print(f"Gebruiker {args.name}: {what} (opslag {service.settings.store_url.split('@')[-1]}).", file=sys.stderr)
    if shown:
        print(f"Wachtwoord (wordt maar één keer getoond): {password}")
    return EXIT_OK


def cmd_access_log(args: argparse.Namespace) -> int:
    from service import access_log as log

    with _existing_store(catch_up=True) as service:
        entries = service.access_log.entries(request=args.request, user=args.user)
        service.access_log.record(_operator(), "cli", log.EXPORT, args.request, "toegangslogboek"
                                  + (f" van {args.user}" if args.user else ""), "cli")
    if args.format == "csv":
        data = log.as_csv(entries)
        if args.out:
            return _write(args.out, data, "toegangslogboek")
        sys.stdout.buffer.write(data)
        return EXIT_OK
    _print_json(log.as_dicts(entries))
    return EXIT_OK


# ------------------------------------------------------------------ erasure and keys

def cmd_erase(args: argparse.Namespace) -> int:
    with _existing_store(catch_up=True) as service:
        outcome = service.erase(args.reference, args.ground, args.by)
        service.access_log.record(args.by, "cli", "wijziging", outcome.reference, "erase_personal_data", "cli")
    print(f"Persoonsgegevens van dossier {outcome.reference} gewist (grond: {args.ground}); "
          "de cijfers en het verloop blijven.", file=sys.stderr)
    return EXIT_OK


def cmd_retention(args: argparse.Namespace) -> int:
    with _existing_store(catch_up=True) as service:
        years = service.settings.retention_years if args.years is None else args.years
        due = service.retention_due(years)
        print(f"{len(due)} dossier(s) langer dan {years} jaar afgesloten met nog persoonsgegevens:", file=sys.stderr)
        for reference, closed_on in due:
            print(f"{reference}\tafgesloten op {closed_on.isoformat()}")
        if args.dry_run:
            print("Proefdraaien: er werd niets gewist.", file=sys.stderr)
            return EXIT_OK
        ground = f"bewaartermijn van {years} jaar na afsluiten verstreken"
        for reference, _ in due:
            service.erase(reference, ground, args.by)
            service.access_log.record(args.by, "cli", "wijziging", reference, "erase_personal_data (bewaartermijn)",
                                      "cli")
    print(f"{len(due)} dossier(s) gewist.", file=sys.stderr)
    return EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    from service.matching import for_location, for_request

    with _existing_store(catch_up=True) as service, service.current.lock():
        view = service.current.refresh()
        if args.request:
            _print_json(for_request(view, service.get_request(args.request), service.now().date()))
            return EXIT_OK
        loc = view.locations.get(args.location)
        if loc is None:
            print(f"Locatie '{args.location}' bestaat niet bij dit loket.", file=sys.stderr)
            return EXIT_USAGE
        _print_json(for_location(view, loc, loket=True, today=service.now().date()))
    return EXIT_OK


def cmd_crisis(args: argparse.Namespace) -> int:
    from service.crisis import crisis_csv, crisis_list, crisis_xlsx
    from service.sidedb import private_file

    if args.format != "json" and not args.out:
        print("Geef --out FILE voor een werkboek of CSV.", file=sys.stderr)
        return EXIT_USAGE
    with _existing_store(catch_up=True) as service:
        crisis = crisis_list(service, args.location, contact=True)
        if crisis["closed_on"] is None:
            print(f"Locatie {args.location} is (nu) niet gesloten.", file=sys.stderr)
        service.access_log.record_many(args.by, "cli", "lezen", [a["request"] for a in crisis["affected"]],
                                       f"cli:crisislijst ({args.format})", "cli")
    if args.format == "json":
        if args.out:
            return _write(args.out, json.dumps(crisis, indent=2, ensure_ascii=False, default=str).encode(), "crisislijst")
        _print_json(crisis)
        return EXIT_OK
    data = crisis_csv(crisis) if args.format == "csv" else crisis_xlsx(crisis)
    private_file(Path(args.out))  # names and phone numbers: readable by the owner only
    progress = crisis["progress"]
    print(f"{progress['affected']} gezinnen getroffen, {progress['placed_again']} opnieuw geplaatst.", file=sys.stderr)
    return _write(args.out, data, "crisislijst")


def cmd_handover(args: argparse.Namespace) -> int:
    with _existing_store(catch_up=True) as service:
        line = service.handover(args.reference, args.to, args.by)
    data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds personal data
    os.fchmod(fd, 0o600)  # also when the file was there already
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    print(f"Dossier {args.reference} klaar voor {args.to} in {args.out} (bevat persoonsgegevens: bezorg het "
          "beveiligd en wis het daarna). Trek de vraag hier in zodra het andere loket ze registreerde.",
          file=sys.stderr)
    return EXIT_OK


def cmd_receive(args: argparse.Namespace) -> int:
    from service.commands import ShapeError, no_duplicate_keys

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        print(f"Kan {args.file} niet lezen als UTF-8-tekst ({type(error).__name__}).", file=sys.stderr)
        return EXIT_USAGE
    lines = [x for x in text.splitlines() if x.strip()]
    if len(lines) != 1:
        print(f"Een overdracht is één regel; {args.file} heeft er {len(lines)}.", file=sys.stderr)
        return EXIT_USAGE
    try:
        line = json.loads(lines[0], object_pairs_hook=no_duplicate_keys)
    except (ValueError, RecursionError) as error:
        print(f"{args.file} is geen geldige JSON-regel ({error if isinstance(error, ValueError) else 'te diep genest'}).",
              file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(line, dict) or line.get("type") != "register" or not isinstance(line.get("origin"), dict):
        print(f"{args.file} is geen overdracht: verwacht één register-regel met 'origin'.", file=sys.stderr)
        return EXIT_USAGE

    with _existing_store(catch_up=True, create=True) as service:
        try:
            outcome = service.receive(line, args.municipality, args.as_reference, args.by)
        except ShapeError as error:
            for field, message in error.problems:
                print(f"Geweigerd ({field}): {message}", file=sys.stderr)
            return EXIT_REFUSED
        service.access_log.record(args.by, "cli", "wijziging", outcome.reference, "overdracht ontvangen", "cli")
    print(f"Ontvangen als dossier {outcome.reference} (van {line.get('origin', {}).get('loket')}, "
          f"dossier {line.get('origin', {}).get('request')}).", file=sys.stderr)
    return EXIT_OK


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    with _existing_store(catch_up=True) as service:
        before = service.vault.kek_usage()
        done = service.vault.rotate()
        after = service.vault.kek_usage()
        service.access_log.record(_operator(), "cli", "beheer", None, f"sleutels omgehuld: {done}", "cli")
    print(f"{done} sleutel(s) omgehuld onder de nieuwste sleutel-encryptiesleutel.", file=sys.stderr)
    print(json.dumps({"voor": before, "na": after}, indent=1))
    return EXIT_OK


def cmd_demo_data(args: argparse.Namespace) -> int:
    from service import demo

    if args.flanders and (args.year or 2024) not in demo.PUBLISHED:
        years = " en ".join(str(y) for y in sorted(demo.PUBLISHED))
        print(f"Voor --flanders zijn er gepubliceerde cijfers voor {years}; kies een van die jaren.", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="\n") as handle:
            if args.flanders:
                result = demo.generate_flanders(handle, year=args.year or 2024, scale=args.scale, seed=args.seed)
            else:
                result = demo.generate_loket(handle, seed=args.seed, scale=args.scale)
    except OSError as error:
        print(f"Kan {out} niet schrijven: {error.strerror}.", file=sys.stderr)
        return EXIT_USAGE
    except BaseException:
        out.unlink(missing_ok=True)  # never leave half a history behind
        raise
    print(f"Geschiedenis geschreven naar {out} ({result.get('lines', '?')} regels)", file=sys.stderr)
    if args.targets:
        import json

        Path(args.targets).write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    return EXIT_OK


def _operator_default() -> str:
    return os.environ.get("USER") or _operator()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loket", description="Lokaal Loket Kinderopvang: opvangvragen en de jaarlijkse foto.")
    sub = p.add_subparsers(dest="command", required=True)

    imp = sub.add_parser("import", help="een geschiedenisbestand (JSON Lines) toepassen")
    imp.add_argument("file")
    imp.set_defaults(run=cmd_import)

    photo = sub.add_parser("photo", help="de foto van een rapporteringsjaar")
    photo.add_argument("year", type=_year)
    photo.add_argument("--as-of", type=_moment, default=None, help="ISO 8601-tijdstip met tijdzone")
    photo.add_argument("--format", choices=("json", "xlsx", "csv"), default="json")
    photo.add_argument("--out", default=None)
    photo.add_argument("--take", action="store_true", help="de foto nemen en bewaren (toont de bewaarde foto met digests)")
    photo.add_argument("--by", default=_operator_default(), help="wie de foto neemt")
    photo.set_defaults(run=cmd_photo)

    photos = sub.add_parser("photos", help="de genomen foto's")
    photos.add_argument("--workbook", metavar="ID", default=None, help="het werkboek van deze genomen foto schrijven")
    photos.add_argument("--out", default=None)
    photos.set_defaults(run=cmd_photos)

    verify = sub.add_parser("verify-photo", help="elke genomen foto van een jaar herbouwen en vergelijken")
    verify.add_argument("year", type=_year)
    verify.set_defaults(run=cmd_verify_photo)

    restate = sub.add_parser("restatement", help="een genomen foto naast de cijfers zoals nu gekend")
    restate.add_argument("year", type=_year)
    restate.add_argument("--as-of", type=_moment, default=None, help="het moment van de genomen foto")
    restate.set_defaults(run=cmd_restatement)

    workbook = sub.add_parser("verify-workbook", help="een ingediend werkboek vergelijken met de herbouwde foto")
    workbook.add_argument("file")
    workbook.set_defaults(run=cmd_verify_workbook)

    vlog = sub.add_parser("verify-log", help="de keten van het logboek controleren (wijzigingen buiten de dienst om)")
    vlog.set_defaults(run=cmd_verify_log)

    exp = sub.add_parser("export", help="het hele logboek met zijn keten als draagbaar archief (.jsonl.gz)")
    exp.add_argument("file")
    exp.set_defaults(run=cmd_export)

    bak = sub.add_parser("backup", help="een back-up terwijl de dienst draait: databank, sleutels, accounts en archief")
    bak.add_argument("folder", help="een nieuwe, lege map")
    bak.set_defaults(run=cmd_backup)

    imp_archive = sub.add_parser("import-archive", help="een archief laden in een lege opslag (SQLite of PostgreSQL)")
    imp_archive.add_argument("file")
    imp_archive.set_defaults(run=cmd_import_archive)

    views = sub.add_parser("rebuild-views", help="de cijferweergave (leesmodel van de foto) opnieuw opbouwen uit het logboek")
    views.set_defaults(run=cmd_rebuild_views)

    drill = sub.add_parser("drill", help="de dossiers achter een cijfer")
    drill.add_argument("year", type=_year)
    drill.add_argument("--municipality", default=None, help="NIS-code; zonder: alle gemeenten")
    drill.add_argument("--category", default="all")
    drill.add_argument("--bucket", default="requests",
                       choices=("requests", "unanswered", "no_proposal", "not_accepted", "deviating"))
    drill.add_argument("--as-of", type=_moment, default=None)
    drill.set_defaults(run=cmd_drill)

    serve = sub.add_parser("serve", help="de HTTP-API starten")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=cmd_serve)

    user = sub.add_parser("user", help="accounts: toevoegen, tonen, wachtwoord, in- of uitschakelen")
    user_sub = user.add_subparsers(dest="action", required=True)
    add = user_sub.add_parser("add", help="een account toevoegen (wachtwoord via standaardinvoer)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("worker", "admin", "organizer", "regulator"))
    add.add_argument("--location", action="append", default=[], help="eigen opvanglocatie (organisator; herhaalbaar)")
    add.add_argument("--generate", action="store_true", help="een wachtwoord genereren en één keer tonen")
    user_sub.add_parser("list", help="de accounts")
    pw = user_sub.add_parser("password", help="een nieuw wachtwoord (open sessies vervallen)")
    pw.add_argument("name")
    pw.add_argument("--generate", action="store_true")
    for action in ("disable", "enable"):
        user_sub.add_parser(action, help="uitschakelen" if action == "disable" else "weer inschakelen").add_argument("name")
    user.set_defaults(run=cmd_user)

    alog = sub.add_parser("access-log", help="het toegangslogboek (voor de DPO)")
    alog.add_argument("--request", default=None, help="alleen dit dossier (referentie)")
    alog.add_argument("--user", default=None, help="alleen deze gebruiker")
    alog.add_argument("--format", choices=("json", "csv"), default="json")
    alog.add_argument("--out", default=None)
    alog.set_defaults(run=cmd_access_log)

    erase = sub.add_parser("erase", help="de persoonsgegevens van een dossier wissen (de cijfers blijven)")
    erase.add_argument("reference")
    erase.add_argument("--ground", required=True, help="de rechtsgrond, bv. 'verzoek van de ouder (art. 17 AVG)'")
    erase.add_argument("--by", default=_operator_default(), help="wie wist")
    erase.set_defaults(run=cmd_erase)

    retention = sub.add_parser("retention", help="persoonsgegevens wissen na de bewaartermijn")
    mode = retention.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="alleen tonen wat gewist zou worden")
    mode.add_argument("--apply", action="store_true", help="echt wissen")
    retention.add_argument("--years", type=int, default=None, help="standaard LOKET_RETENTION_YEARS (2)")
    retention.add_argument("--by", default=_operator_default(), help="wie wist")
    retention.set_defaults(run=cmd_retention)

    match = sub.add_parser("match", help="vrije plaatsen voor een vraag, of open vragen voor een locatie, met redenen")
    which = match.add_mutually_exclusive_group(required=True)
    which.add_argument("--request", help="dossierreferentie: de passende vrije plaatsen, best eerst")
    which.add_argument("--location", help="locatiereferentie: de open vragen die haar vrije plaatsen kunnen beantwoorden")
    match.set_defaults(run=cmd_match)

    crisis = sub.add_parser("crisis", help="de crisislijst van een gesloten locatie (om te bellen)")
    crisis.add_argument("location")
    crisis.add_argument("--format", choices=("json", "xlsx", "csv"), default="json")
    crisis.add_argument("--out", default=None)
    crisis.add_argument("--by", default=_operator_default(), help="wie de lijst opvraagt (toegangslogboek)")
    crisis.set_defaults(run=cmd_crisis)

    handover = sub.add_parser("handover", help="een open vraag overdragen aan een ander loket (met toestemming)")
    handover.add_argument("reference")
    handover.add_argument("--to", required=True, help="het loket dat de vraag overneemt")
    handover.add_argument("--out", required=True, help="het bestand (één regel in het historiekformaat)")
    handover.add_argument("--by", default=_operator_default())
    handover.set_defaults(run=cmd_handover)

    receive = sub.add_parser("receive", help="een overgedragen vraag van een ander loket registreren")
    receive.add_argument("file")
    receive.add_argument("--municipality", required=True, help="NIS-code van de gemeente bij dit loket")
    receive.add_argument("--as", dest="as_reference", default=None, help="een eigen dossierreferentie")
    receive.add_argument("--by", default=_operator_default())
    receive.set_defaults(run=cmd_receive)

    rotate = sub.add_parser("rotate-keys", help="alle sleutels omhullen onder de nieuwste LOKET_KEK")
    rotate.set_defaults(run=cmd_rotate_keys)

    demo = sub.add_parser("demo-data", help="realistische geschiedenis genereren")
    demo.add_argument("--out", required=True, help="pad van het te schrijven geschiedenisbestand (verplicht)")
    demo.add_argument("--flanders", action="store_true", help="heel Vlaanderen en Brussel, één jaar")
    demo.add_argument("--year", type=_year, default=None)
    demo.add_argument("--scale", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--targets", default=None, help="schrijf de beoogde cijfers als JSON naar dit pad")
    demo.set_defaults(run=cmd_demo_data)
    return p


def main(argv: list[str] | None = None) -> int:
    import logging

    import psycopg
    from eventsourcing.persistence import PersistenceError
    from pydantic import ValidationError

    from service import faults
    from service.keyring import ConfigurationError

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigurationError as error:
        print(f"Instelling van de geheimen: {error}.", file=sys.stderr)
        return EXIT_USAGE
    except DomainError as error:
        print(f"Geweigerd: {error.message}", file=sys.stderr)
        return EXIT_REFUSED
    except StoreMissing as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as error:  # the settings (LOKET_*) are wrong
        from service.commands import problems_of

        for field, message in problems_of(error.errors()):
            print(f"Instelling LOKET_{field.upper()}: {message}", file=sys.stderr)
        return EXIT_USAGE
    except (PersistenceError, psycopg.OperationalError) as error:
        if faults.kind(error) != "unreachable":  # read-only, full, cannot be opened: say which
            print(faults.message(error), file=sys.stderr)
            return EXIT_STORE
        print(f"De opslag is niet bereikbaar ({type(error).__name__}): controleer LOKET_STORE en of de "
              "databankserver draait. Er werd niets geregistreerd.", file=sys.stderr)
        return EXIT_STORE
    except faults.STORE_ERRORS as error:  # the side tables' own errors (sqlite3, the pool)
        print(faults.message(error), file=sys.stderr)
        return EXIT_STORE


if __name__ == "__main__":
    sys.exit(main())
