"""`--speak`: the answer said aloud, or written as a WAV file, by espeak-ng where it is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

VOICES = {"ko": "ko", "ja": "ja", "en": "en-us"}


class SpeakError(Exception):
    """espeak-ng is missing or failed."""


def speak(text: str, lang: str, wav: Path | None = None) -> None:
    """Play `text` (lang `ko`/`ja`/`en`), or write it to `wav` instead."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise SpeakError("--speak needs espeak-ng (apt-get install espeak-ng)")
    command = [program, "-v", VOICES.get(lang, "ko"), *(["-w", str(wav)] if wav else []), "--", text]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise SpeakError(f"espeak-ng failed: {result.stderr.strip()}")
