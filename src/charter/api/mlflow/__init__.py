"""MLflow's REST protocol on Charter: the adapter that lets unchanged MLflow client code
track, log artifacts and register models in a Charter account.

Key contracts:
- Tracking URI `http://HOST:PORT/mlflow/<account>`; MLFLOW_TRACKING_TOKEN is a Charter
  API token (Bearer). Routes only: every call runs the experiments and registry services'
  governed operations, authorized and audited as the token's user, like `/v1`.
- Every refusal under `/mlflow` answers MLflow's `{"error_code", "message"}` shape
  (`errors.py`); a path the adapter does not serve answers ENDPOINT_NOT_FOUND.
- `app.create_mlflow_app(runtime)` builds it; `api.app` mounts it.
"""
