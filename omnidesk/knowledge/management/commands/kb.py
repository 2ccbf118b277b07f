"""`omnidesk kb eval FILE.json [--json OUT]`: test the answer bot on your own questions before switching
it on (docs/bot.md). Nothing is written to the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import ValidationError

from omnidesk.knowledge import evaluation
from omnidesk.knowledge.search import DEFAULT_POLICY, AnswerPolicy

COLUMNS = ("recall_at_1", "recall_at_3", "answered", "precision", "unanswerable_answered", "langid_accuracy")


class Command(BaseCommand):
    help = "Knowledge base tools. eval FILE.json: recall, answers and language identification on your own questions."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("eval", help="evaluate search and the answer bot on FILE.json")
        run.add_argument("file", type=Path)
        run.add_argument("--json", dest="json_out", type=Path, help="also write the figures to this file")
        run.add_argument("--threshold", type=float, help="answer at this confidence instead of the default")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = evaluation.EvalSet.model_validate_json(path.read_bytes())
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        except ValidationError as exc:
            raise CommandError(f"{path} is not an evaluation file: {exc}") from exc
        policy = (
            DEFAULT_POLICY
            if options["threshold"] is None
            else AnswerPolicy(min_confidence=options["threshold"])
        )
        languages = [code for code, _name in settings.LANGUAGES]
        try:
            result = evaluation.report(data, languages=languages, policy=policy)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self._print(result)
        if options["json_out"]:
            options["json_out"].write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
            self.stdout.write(f"wrote {options['json_out']}")

    def _print(self, result: dict[str, Any]) -> None:
        header = f"{'':10}" + "".join(f"{c:>23}" for c in COLUMNS)
        self.stdout.write(header)
        rows = [("overall", result["overall"]), *result["languages"].items()]
        for name, figures in rows:
            self.stdout.write(
                f"{name:10}" + "".join(f"{evaluation.format_share(figures[c]):>23}" for c in COLUMNS)
            )
        suggested = result["suggested_threshold"]
        self.stdout.write(f"confidence threshold used: {result['threshold']}")
        if suggested is None:
            self.stdout.write(
                "suggested threshold: none reaches precision >= 0.9 with <= 5 % of unanswerable questions answered"
            )
        else:
            self.stdout.write(
                f"suggested threshold: {suggested} (answers most while precision >= 0.9 and "
                "<= 5 % of unanswerable questions are answered)"
            )
