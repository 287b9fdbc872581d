"""Acceptance 5 over MLflow's protocol: bad input gets MLflow's error shape with a clear
code, never a 500, and leaves nothing behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from charter.experiments import orm as experiments_orm
from charter.registry import orm as registry_orm
from tests.mlflow.conftest import MlflowSetup

TABLES = (experiments_orm.MetricPoint, experiments_orm.Artifact, experiments_orm.LoggedModel,
          registry_orm.ModelVersion)


@pytest.mark.timeout(300)  # one MLflow client process: ~25 s on an idle machine
def test_bad_input_gets_mlflows_error_shape_and_leaves_nothing(mlflow_setup: MlflowSetup):
    answers = mlflow_setup.run_client("bad.py")
    invalid = [400, "INVALID_PARAMETER_VALUE"]
    assert answers["metric_not_a_number"][:2] == invalid
    assert answers["batch_with_a_metric_not_a_number"][:2] == invalid
    assert answers["run_of_another_experiment"] == [*invalid, "run_not_in_experiment"]
    assert answers["unknown_filter_attribute"] == [*invalid, "invalid_filter"]
    assert answers["param_of_10_mb"] == [*invalid, "value_too_long"]
    assert answers["artifact_path_with_dotdot"] == [*invalid, "invalid_artifact_path"]
    assert answers["artifact_listing_with_dotdot"] == [*invalid, "invalid_artifact_path"]
    assert answers["nul_in_a_name"] == [*invalid, "invalid_text"]
    assert answers["not_served"] == [404, "ENDPOINT_NOT_FOUND", "route_not_found"]
    assert answers["client_search_with_unknown_attribute"] == "INVALID_PARAMETER_VALUE"

    # Nothing behind: the one param logged before, no point, no file, no model.
    with mlflow_setup.platform.runtime.db.read() as session:
        counts = {t.__tablename__: session.scalar(select(func.count()).select_from(t))
                  for t in TABLES}
        params = session.execute(select(experiments_orm.Param.key,
                                        experiments_orm.Param.value)).all()
    assert [tuple(p) for p in params] == [("kept", "1")]
    assert set(counts.values()) == {0}, counts
    assert not list((mlflow_setup.platform.settings.home).rglob("escape.txt"))
