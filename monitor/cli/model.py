"""`closeloop model download` and `closeloop model status`: the transformer's files, and which scorer is live.

download: fetches the files a scorer needs of ``scoring.model`` at ``scoring.revision`` into the hub cache
(``scoring.cache_dir``, else HF_HUB_CACHE, else HF_HOME/hub) with a progress bar, then loads them and scores
a test text. Exit 0 when the model loads; 1 when the hub could not be reached or a transfer failed (what was
fetched stays cached, and a second run resumes); 2 when the hub does not know the model or the revision,
HF_HUB_OFFLINE is set, or the files do not load.

status: where the files are and whether they load, without the network. Exit 0 when the model loads; 1 when
the pinned revision is not in the cache (it says to run `closeloop model download`); 2 when it is there
but does not load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.cli.common import EXIT_NOT_APPLIED, EXIT_OK, CliError, settings_for

if TYPE_CHECKING:
    from monitor.config import ScoringSettings, Settings

PROBE = "my order never arrived and nobody answers"


def print_live_scorer(settings: Settings) -> None:
    """Build the scorer as the daemon does and say which one is live (and why, on the fallback).

    Under ``backend = "transformers"`` a model that cannot be loaded raises ScorerUnavailable (exit 2)."""
    from monitor.scoring import build_scorer, describe

    info = describe(build_scorer(settings.scoring))
    print(f"scorer: {info.line}")
    if info.fallback_reason:
        print(f"fallback: offline model, reason: {info.fallback_reason}")


def _size(files: list[tuple[str, int]]) -> str:
    total = sum(size for _, size in files)
    return f"{len(files)} files, {total / 1_000_000:.1f} MB"


def _verify(settings: ScoringSettings, folder: Path) -> None:
    """Load the transformer from the cache (or its folder) and score PROBE; ScorerUnavailable (exit 2)
    when it does not load."""
    from monitor.scoring import describe, load_transformer
    from monitor.scoring.hub import folder_files

    print(f"files: {folder} ({_size(folder_files(folder))})")
    scorer = load_transformer(settings)
    result = scorer.score([PROBE], [None])[0]
    print(f"loaded: {describe(scorer).line} (a test text scored {result.label} {result.score:.2f})")


def _hub_failure(exc: Exception, settings: ScoringSettings) -> CliError:
    """One line for what huggingface_hub raised; a model or revision the hub does not know is exit 2."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, RevisionNotFoundError):
        return CliError(f"scoring.revision: the hub has no revision {settings.revision!r} of {settings.model!r}")
    if isinstance(exc, RepositoryNotFoundError):
        return CliError(f"scoring.model: the hub has no model {settings.model!r} (or it is private): {reason}")
    return CliError(f"cannot download {settings.model!r}: {type(exc).__name__}: {reason}", EXIT_NOT_APPLIED)


def cmd_download(args: argparse.Namespace) -> int:
    from monitor.scoring import hub

    settings = settings_for(args).scoring
    folder = hub.local_directory(settings)
    if folder is not None:
        print(f"scoring.model is the local directory {folder}: nothing to download")
    else:
        if hub.offline_env():
            raise CliError("HF_HUB_OFFLINE is set: unset it to download, or copy a model folder here and set "
                           "scoring.model to it (docs/DEPLOY.md, air-gapped install)")
        print(f"downloading {settings.model} at revision {settings.revision} into {hub.cache_dir(settings)}")
        sys.stdout.flush()
        try:
            folder = hub.download(settings)
        except Exception as exc:  # the hub's and the network's failures, each one line
            raise _hub_failure(exc, settings) from None
    _verify(settings, folder)
    if settings.runtime != "torch" and not args.no_fast_path:
        _prepare_fast_path(folder)
    if settings.backend not in ("auto", "transformers"):
        print(f"note: scoring.backend = {settings.backend!r} does not use it; set it to \"auto\" or \"transformers\"")
    return EXIT_OK


def _prepare_fast_path(folder: Path) -> None:
    """Export the int8 ONNX fast path once (scoring.runtime "auto" takes it from the next start). A failure
    leaves the model usable on torch: one line says why, and the download still succeeds."""
    from monitor.scoring.onnx_export import prepare_fast_path

    print("preparing the fast path (ONNX int8 export; minutes for the base model on a small CPU)")
    sys.stdout.flush()
    try:
        prepared = prepare_fast_path(folder)
    except Exception as exc:  # torch's exporter and the quantizer fail in many ways; none loses the model
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"warning: fast path not prepared ({reason}); the scorer runs on torch", file=sys.stderr)
        return
    print(f"fast path: {prepared}")


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.scoring import hub

    settings = settings_for(args).scoring
    print(f"backend: {settings.backend}")
    folder = hub.local_directory(settings)
    if folder is not None:
        print(f"model: {settings.model} (a local directory)")
    else:
        print(f"model: {settings.model} at revision {settings.revision}")
        print(f"cache: {hub.cache_dir(settings)}")
        folder = hub.cached_snapshot(settings)
        if folder is None:
            print("files: not downloaded: run `closeloop model download`"
                  + (" (HF_HUB_OFFLINE is set: download elsewhere and copy the folder)" if hub.offline_env() else ""))
            return EXIT_NOT_APPLIED
    _verify(settings, folder)
    from monitor.scoring.onnx_export import prepared_path

    prepared = prepared_path(folder)
    print(f"fast path: {prepared}" if prepared is not None
          else "fast path: not prepared (`closeloop model download` prepares it; scoring.runtime = \"auto\" uses it)")
    return EXIT_OK


def register(commands: Any) -> None:
    model = commands.add_parser("model", help="the sentiment model's files: download the pinned revision, or status")
    actions = model.add_subparsers(dest="action", required=True, metavar="ACTION")
    download = actions.add_parser("download", help="fetch scoring.model at scoring.revision into the cache, then load it")
    download.add_argument("--no-fast-path", action="store_true",
                          help="skip the int8 ONNX export (scoring.runtime = \"torch\" skips it too)")
    download.set_defaults(func=cmd_download)
    status = actions.add_parser("status", help="where the model's files are and whether they load (no network)")
    status.set_defaults(func=cmd_status)

