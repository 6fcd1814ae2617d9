"""tarn: Python and SQL models over a branchable Iceberg lakehouse.

Define models with decorators; they stay plain Python functions::

    import tarn

    @tarn.model(materialization_strategy="REPLACE")
    @tarn.python("3.11", pip={"pandas": "2.2.3"})
    def clean_trips(trips=tarn.Model("taxi_trips", columns=["miles", "fare"], filter="miles > 0")):
        return trips.to_pandas()

    clean_trips(trips=my_table)   # runs as plain Python, e.g. in a test

Importing tarn needs only the standard library; pyarrow is imported by the
parts that handle data (``tarn.expectations`` helpers, the worker).
``tarn.expectations`` and ``tarn.Client`` (the lakehouse over the HTTP API
of ``tarn serve``) are loaded on first use, to keep model steps' start-up
short.
"""

from ._decorators import FunctionSpec, TarnFunction, expectation, model, python, resources
from ._exceptions import (
    AlreadyExistsError,
    BranchExistsError,
    BranchNotFoundError,
    CancelledError,
    CommitNotFoundError,
    ConflictError,
    FilterError,
    ForbiddenError,
    InputError,
    InvalidError,
    JobNotFoundError,
    MergeConflictError,
    MissingInputError,
    NamespaceExistsError,
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    NotFoundError,
    OutputError,
    RefExistsError,
    RefNotFoundError,
    SchemaError,
    TableExistsError,
    TableNotFoundError,
    TagExistsError,
    TagNotFoundError,
    TarnError,
    UnauthorizedError,
    UserExistsError,
)
from ._inputs import Model, Parameter
from ._schema import (
    Any,
    Binary,
    Bool,
    DataType,
    Date32,
    Date64,
    Float64,
    Int32,
    Int64,
    String,
    TableField,
    TableSchema,
    TimestampMicro,
    TimestampMicroUTC,
    TimestampNano,
    TimestampNanoUTC,
)
from ._validate import STRATEGIES
from ._version import __version__

__all__ = [
    "__version__",
    # decorators
    "model",
    "expectation",
    "python",
    "resources",
    # inputs
    "Model",
    "Parameter",
    # schemas and column types
    "TableSchema",
    "TableField",
    "DataType",
    "Any",
    "Bool",
    "Int32",
    "Int64",
    "Float64",
    "Date32",
    "Date64",
    "TimestampMicro",
    "TimestampNano",
    "TimestampMicroUTC",
    "TimestampNanoUTC",
    "String",
    "Binary",
    # expectations
    "expectations",
    "standard_expectations",
    "ExpectationResult",
    # the run's key-value store
    "store",
    # introspection
    "TarnFunction",
    "FunctionSpec",
    "STRATEGIES",
    # errors
    "TarnError",
    "NotFoundError",
    "RefNotFoundError",
    "BranchNotFoundError",
    "TagNotFoundError",
    "CommitNotFoundError",
    "NamespaceNotFoundError",
    "TableNotFoundError",
    "JobNotFoundError",
    "ConflictError",
    "AlreadyExistsError",
    "RefExistsError",
    "BranchExistsError",
    "TagExistsError",
    "NamespaceExistsError",
    "TableExistsError",
    "UserExistsError",
    "MergeConflictError",
    "UnauthorizedError",
    "ForbiddenError",
    "InvalidError",
    "NamespaceNotEmptyError",
    "CancelledError",
    "MissingInputError",
    "FilterError",
    "InputError",
    "OutputError",
    "SchemaError",
    # client and its results (loaded on first use)
    "Client",
    "RunResult",
    "StepResult",
    "Ref",
    "Branch",
    "Tag",
    "Commit",
    "Namespace",
    "Table",
    "Column",
    "PartitionField",
    "Snapshot",
    "DataFile",
    "Entry",
    "Change",
    "MergeResult",
    "WriteResult",
    "Job",
    "JobError",
    "User",
    "TablePlan",
    "PlanColumn",
    "ExportResult",
    "Record",
]

_CLIENT_NAMES = (
    "Client", "RunResult", "StepResult", "Ref", "Branch", "Tag", "Commit", "Namespace", "Table",
    "Column", "PartitionField", "Snapshot", "DataFile", "Entry", "Change", "MergeResult",
    "WriteResult", "Job", "JobError", "User", "TablePlan", "PlanColumn", "ExportResult", "Record",
)


def __getattr__(name: str):  # PEP 562: load tarn.expectations only when used
    if name == "store":
        import importlib

        return importlib.import_module(".store", __name__)
    if name in ("expectations", "ExpectationResult", "standard_expectations"):
        import importlib

        if name == "standard_expectations":
            return importlib.import_module(".standard_expectations", __name__)
        module = importlib.import_module(".expectations", __name__)
        return module if name == "expectations" else module.ExpectationResult
    if name in _CLIENT_NAMES:  # the client imports http.client & co.: not in model steps' start-up
        import importlib

        module = importlib.import_module("._client" if name == "Client" else "._client_types", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'tarn' has no attribute {name!r}")
