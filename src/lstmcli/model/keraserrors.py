"""Keras's refusals to load an archive, said in one line about the artifact, never in Keras's internal words.

`keras.saving.load_model` nests its causes ("… could not be deserialized
properly. Please ensure … Exception encountered: …") and speaks to the author
of a custom layer ("A total of 3 objects could not be loaded. Example error
message …"). A user of lstmcli needs what is wrong with the file and what to
do, so each known refusal is matched here and said plainly; anything else is
reduced to the innermost cause's first sentence. Light: standard library only.
"""

from __future__ import annotations

import re

CAUSE = "Exception encountered:"  # Keras chains each level's cause after this
REWRITE = "; write it again with the step that made it (or restore it from where it came)"

# (pattern in Keras's text, what it means for the artifact): the first that matches is said.
KNOWN = [
    (
        re.compile(r"Could not locate (?:class|function) '([^']+)'"),
        lambda m, _: f" uses the custom class {m.group(1)!r}, which is not part of Keras; lstmcli loads models built "
        f"from Keras's own layers, so rebuild it without {m.group(1)}",
    ),
    (
        re.compile(r"Cannot deserialize `([^`]+)` because it is not a modeling function"),
        lambda m, _: f"'s model configuration calls {m.group(1)}, which is not part of a model (Keras refuses to run "
        f"it while loading, as does lstmcli){REWRITE}",
    ),
    (
        re.compile(r"outside of the model archive.*?file: '([^']*)'", re.S),
        lambda m, layer: f"'s {layer or 'model'} layer reads a file outside the archive ({m.group(1)}); lstmcli loads "
        f"self-contained models only{REWRITE}",
    ),
    (
        re.compile(r"H5 file with external Dataset: \[\('([^']*)'"),
        lambda m, _: f"'s weights (model.weights.h5) read a file outside the archive ({m.group(1)}); lstmcli loads "
        f"self-contained models only{REWRITE}",
    ),
    (
        re.compile(
            r"A total of (\d+) objects could not be loaded.*?List of objects that could not be loaded:\s*\[(.*)\]", re.S
        ),
        lambda m, _: f"'s weights do not fit its layers ({_names(m.group(2)) or m.group(1)} have weights of other "
        f"shapes, as from another model){REWRITE}",
    ),
    (
        re.compile(r"A total of (\d+) objects could not be loaded"),
        lambda m, _: f"'s weights do not fit its layers ({m.group(1)} of them, as from another model){REWRITE}",
    ),
    (
        re.compile(r"file signature not found|Unable to (?:synchronously )?open (?:file|object)"),
        lambda m, _: f"'s weights (model.weights.h5) are not a readable HDF5 file{REWRITE}",
    ),
]


def _names(objects: str) -> str:
    return ", ".join(re.findall(r"name=(\w+)", objects))


def explain(exc: BaseException) -> str:
    """What follows the artifact's path in the error line for Keras's refusal `exc`."""
    text = str(exc)
    layers = re.findall(r"deserializing class '(\w+)'|<class '[\w.]+\.(\w+)'> could not be deserialized", text)
    layer = next((a or b for a, b in reversed(layers) if (a or b) not in ("Sequential", "Functional", "Model")), None)
    for pattern, say in KNOWN:
        match = pattern.search(text)
        if match:
            return say(match, layer)
    cause = text.rsplit(CAUSE, 1)[-1].strip() or type(exc).__name__
    first = re.split(r"(?<=[.!?])\s|\n", cause, maxsplit=1)[0].strip().rstrip(".")
    if len(first) > 160:
        first = first[:157] + "..."
    where = f" its {layer} layer:" if layer else ""
    return f"'s model could not be rebuilt by Keras ({where} {first}){REWRITE}".replace("( ", "(")
