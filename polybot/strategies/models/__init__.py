"""Forecasting-model plugins for the AI-model strategy: market features -> P(outcome wins).

A plugin is any object with ``name``, ``features`` (the feature names it reads) and
``predict(features) -> probability``. :func:`load_model` reads a model file (JSON with a
``"kind"`` key) or a bundled model by name; :func:`register_kind` adds loaders for new kinds.
The bundled ``fair_value_logit.json`` is a calibrated logistic regression trained offline with
numpy on recorded local-venue history (``polybot.backtest.modeling.train_logit``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

BUNDLED = Path(__file__).parent


class ProbabilityModel(Protocol):
    """Maps a market's features to the probability that its YES outcome wins."""

    @property
    def name(self) -> str:
        """Return the model's name."""
        ...

    @property
    def features(self) -> Sequence[str]:
        """Return the feature names the model reads."""
        ...

    def predict(self, features: Mapping[str, float]) -> float:
        """Return P(YES) in (0, 1)."""
        ...


def sigmoid(x: float) -> float:
    """Return the logistic function of ``x`` (overflow-safe)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(p: float, eps: float = 1e-4) -> float:
    """Return log(p / (1 − p)) with ``p`` clipped away from 0 and 1."""
    p = min(max(p, eps), 1 - eps)
    return math.log(p / (1 - p))


class LogisticModel:
    """Standardized logistic regression plus Platt calibration, stored as JSON."""

    kind = "logistic"

    def __init__(
        self,
        *,
        name: str,
        features: Sequence[str],
        weights: Sequence[float],
        bias: float,
        mean: Sequence[float],
        scale: Sequence[float],
        calibration: tuple[float, float] = (1.0, 0.0),
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if not len(features) == len(weights) == len(mean) == len(scale):
            raise ValueError("features, weights, mean and scale must have the same length")
        self.name = name
        self.features = tuple(features)
        self.weights = [float(w) for w in weights]
        self.bias = float(bias)
        self.mean = [float(m) for m in mean]
        self.scale = [float(s) if s else 1.0 for s in scale]
        self.calibration = (float(calibration[0]), float(calibration[1]))
        self.meta = dict(meta or {})

    def raw_score(self, features: Mapping[str, float]) -> float:
        """Return the uncalibrated logit."""
        total = self.bias
        for name, w, m, s in zip(self.features, self.weights, self.mean, self.scale, strict=True):
            total += w * (features[name] - m) / s
        return total

    def predict(self, features: Mapping[str, float]) -> float:
        """Return the calibrated P(YES)."""
        a, b = self.calibration
        return sigmoid(a * self.raw_score(features) + b)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready description."""
        return {
            "kind": self.kind,
            "name": self.name,
            "features": list(self.features),
            "weights": self.weights,
            "bias": self.bias,
            "mean": self.mean,
            "scale": self.scale,
            "calibration": list(self.calibration),
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON."""
        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return target

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogisticModel:
        """Build from :meth:`to_dict` output."""
        return cls(
            name=data["name"],
            features=data["features"],
            weights=data["weights"],
            bias=data["bias"],
            mean=data["mean"],
            scale=data["scale"],
            calibration=(
                float(data.get("calibration", (1.0, 0.0))[0]),
                float(data.get("calibration", (1.0, 0.0))[1]),
            ),
            meta=data.get("meta"),
        )


_LOADERS: dict[str, Callable[[Mapping[str, Any]], ProbabilityModel]] = {
    LogisticModel.kind: LogisticModel.from_dict,
}


def register_kind(kind: str, loader: Callable[[Mapping[str, Any]], ProbabilityModel]) -> None:
    """Teach :func:`load_model` a new model-file ``kind``."""
    _LOADERS[kind] = loader


def load_model(path_or_name: str | Path) -> ProbabilityModel:
    """Load a model file, or a bundled model by name (e.g. ``"fair_value_logit"``)."""
    path = Path(path_or_name)
    if not path.exists():
        path = BUNDLED / f"{path_or_name}.json"
    if not path.exists():
        bundled = sorted(p.stem for p in BUNDLED.glob("*.json"))
        raise FileNotFoundError(f"no model file {path_or_name!r}; bundled models: {bundled}")
    data = json.loads(path.read_text())
    loader = _LOADERS.get(data.get("kind", ""))
    if loader is None:
        raise ValueError(
            f"{path}: unknown model kind {data.get('kind')!r}; known: {sorted(_LOADERS)}"
        )
    return loader(data)
