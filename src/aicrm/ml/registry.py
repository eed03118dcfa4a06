"""The model registry: versioned model runs with parameters, metrics and a training-data fingerprint, plus the
per-customer scores each version wrote."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sqlalchemy import Engine, func, select

import aicrm
from aicrm.core.config import get_settings
from aicrm.core.db import session_scope, utcnow
from aicrm.core.errors import ModelNotTrained, ValidationFailed
from aicrm.ingest.bulk import bulk_insert
from aicrm.ml.models import CustomerScore, ModelRun


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 over a table's content (row order included), naming the data a model was trained on."""
    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def next_version(*, engine: Engine, model_name: str) -> int:
    """The version number the next run of ``model_name`` gets (1, 2, ...)."""
    with session_scope(engine) as s:
        current = s.execute(select(func.max(ModelRun.version)).where(ModelRun.model_name == model_name)).scalar()
    return (current or 0) + 1


def _artifact_dir() -> Path:
    path = Path(get_settings().data_dir) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def register(*, engine: Engine, model_name: str, algorithm: str, params: dict[str, Any], metrics: dict[str, Any],
             fingerprint: str, model: Any | None = None) -> ModelRun:
    """Record a trained model as the next version of ``model_name`` (saving the model object when given)."""
    version = next_version(engine=engine, model_name=model_name)
    artifact = None
    if model is not None:
        artifact = _artifact_dir() / f"{model_name}-v{version}.joblib"
        joblib.dump({"model": model, "model_name": model_name, "version": version, "fingerprint": fingerprint,
                     "params": params, "aicrm_version": aicrm.__version__}, artifact)
    run = ModelRun(model_name=model_name, version=version, algorithm=algorithm, params=_jsonable(params),
                   metrics=_jsonable(metrics), fingerprint=fingerprint,
                   artifact_path=str(artifact) if artifact else None, trained_at=utcnow())
    with session_scope(engine) as s:
        s.add(run)
    return run


def latest_run(*, engine: Engine, model_name: str) -> ModelRun | None:
    """The newest run of ``model_name``, or None."""
    with session_scope(engine) as s:
        return s.execute(select(ModelRun).where(ModelRun.model_name == model_name)
                         .order_by(ModelRun.version.desc()).limit(1)).scalar()


def load_model(*, engine: Engine, model_name: str, version: int | None = None) -> tuple[Any, ModelRun]:
    """The saved model object and its run; refuses a file whose name, version or fingerprint disagree."""
    with session_scope(engine) as s:
        q = select(ModelRun).where(ModelRun.model_name == model_name)
        q = q.where(ModelRun.version == version) if version else q.order_by(ModelRun.version.desc()).limit(1)
        run = s.execute(q).scalar()
    if run is None or not run.artifact_path:
        raise ModelNotTrained(f"No saved {model_name} model" + (f" version {version}" if version else ""),
                              hint=f"Run `aicrm train {model_name}` first.")
    path = Path(run.artifact_path)
    if not path.exists():
        raise ModelNotTrained(f"The {model_name} v{run.version} model file {path} is missing",
                              hint=f"Run `aicrm train {model_name}` again.")
    blob = joblib.load(path)
    if (blob.get("model_name"), blob.get("version"), blob.get("fingerprint")) != (model_name, run.version, run.fingerprint):
        raise ValidationFailed(f"{path} does not match the registry's {model_name} v{run.version}",
                               hint=f"The file was replaced or belongs to another store; run `aicrm train {model_name}`.")
    if blob.get("aicrm_version") != aicrm.__version__:
        raise ValidationFailed(f"{path} was saved by aicrm {blob.get('aicrm_version')}, this is {aicrm.__version__}",
                               hint=f"Run `aicrm train {model_name}` to retrain with this version.")
    return blob["model"], run


def write_scores(*, engine: Engine, model_name: str, version: int, scores: pd.DataFrame) -> int:
    """Store one score per customer (columns customer_id, value, label, explanation) under ``version``."""
    frame = pd.DataFrame({
        "customer_id": scores["customer_id"].astype("int64").to_numpy(),
        "model_name": model_name,
        "model_version": version,
        "value": scores["value"].astype("float64").to_numpy() if "value" in scores else None,
        "label": scores["label"].to_numpy() if "label" in scores else None,
        "explanation": scores["explanation"].to_numpy() if "explanation" in scores else None,
        "scored_at": utcnow(),
    })
    with engine.begin() as conn:
        return bulk_insert(conn, CustomerScore.__table__, frame)


def latest_scores(*, engine: Engine, model_name: str) -> pd.DataFrame:
    """The newest version's scores of ``model_name`` (empty table when never scored)."""
    with session_scope(engine) as s:
        version = s.execute(select(func.max(CustomerScore.model_version))
                            .where(CustomerScore.model_name == model_name)).scalar()
        if version is None:
            return pd.DataFrame(columns=["customer_id", "value", "label", "explanation", "model_version"])
        rows = s.execute(select(CustomerScore.customer_id, CustomerScore.value, CustomerScore.label,
                                CustomerScore.explanation, CustomerScore.model_version)
                         .where(CustomerScore.model_name == model_name, CustomerScore.model_version == version)).all()
    return pd.DataFrame(rows, columns=["customer_id", "value", "label", "explanation", "model_version"])


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
