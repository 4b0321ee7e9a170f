"""The normative model behind the adapter protocol (``privtrak adapter --model``).

:class:`ModelExecution` drives :class:`privtrak.reference.model.Model`
through the same step semantics as the reference's
:class:`~privtrak.conformance._execute.Execution`, so ``privtrak conform``
checks the model against every packaged vector and ``privtrak conform
fuzz`` compares it with the in-process :class:`~privtrak.reference.Tracker`
over the wire. ``snapshot_restore`` saves the model's own state document
(:meth:`Model.save`), round-trips it through JSON text and loads a new
model from it, so the adapter declares every feature the reference does.
"""

from __future__ import annotations

import json

from privtrak import __version__
from privtrak.reference import Config, Seconds
from privtrak.reference.model import Model

from ._adapter import ALL_FEATURES, AdapterInfo
from ._execute import Execution

MODEL_INFO = AdapterInfo("privtrak-model", __version__, ALL_FEATURES)
"""The model's hello: the same features as the reference's (snapshot included)."""


class ModelExecution(Execution):
    """One fresh model driven step by step (see :class:`Execution`)."""

    def make_tracker(self, config: Config, start: Seconds) -> Model:
        """The model a case starts with, with the case's identifier."""
        return Model(config, self.identifier(), now=start)

    def save_and_restore(self) -> None:
        """R8.3: save the model's state, round-trip it through JSON text and
        continue with a model loaded from it."""
        assert isinstance(self.tracker, Model)
        text = json.dumps(self.tracker.save(), sort_keys=True)
        self.tracker = Model.load(json.loads(text), self.identifier())
